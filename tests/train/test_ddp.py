"""Two CPU processes (gloo) train with DDP and end with identical adapters."""

from __future__ import annotations

import json
import socket

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.slow, pytest.mark.ddp]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_keeps_ranks_identical(camus_tiny, sam2_tiny_checkpoint, tmp_path):
    import ddp_worker
    import torch.multiprocessing as mp

    from samurai.train.lora import load_adapter
    from samurai.train.model import build_model

    cfg = dict(
        data=str(camus_tiny["root"]),
        out_dir=str(tmp_path / "run"),
        checkpoint=str(sam2_tiny_checkpoint),
        clip_len=2,
        max_objects=1,
        epochs=1,
        lr=2e-3,
        warmup_steps=1,
        progress=False,
        val_split="val",
        max_val_cases=2,
        device="cpu",
    )
    mp.spawn(ddp_worker.run, args=(2, _free_port(), cfg, str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # 2 training cases split over 2 ranks: one optimizer step each.
    assert rank0["steps"] == rank1["steps"] == 1
    assert rank0["lora"].keys() == rank1["lora"].keys()
    for key in rank0["lora"]:
        assert torch.equal(rank0["lora"][key], rank1["lora"][key]), key
    assert any(v.abs().sum() > 0 for k, v in rank0["lora"].items() if "lora_B" in k)
    # Rank 0 wrote the adapter; it holds the same weights.
    model = load_adapter(
        build_model("tiny", sam2_tiny_checkpoint, image_size=256), tmp_path / "run" / "adapter"
    )
    for name, param in model.named_parameters():
        if "lora_" in name:
            assert torch.equal(param, rank0["lora"][name]), name
    # Validation was sharded over the ranks and reduced: one record with a Dice per structure.
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 1 and 0.0 <= history[0]["dice_LV"] <= 1.0
