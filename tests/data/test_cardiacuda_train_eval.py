"""`samurai train --prompts learned` and `samurai eval --prompt learned` on a CardiacUDA-layout
set (synthetic, four chambers, five-of-six labelled training frames), random-init hiera-tiny."""

import csv

import pytest

pytest.importorskip("torch")
pytest.importorskip("nibabel")

from samurai.cli import main  # noqa: E402
from samurai.data.synthetic import write_cardiacuda  # noqa: E402

pytestmark = pytest.mark.slow


def test_train_and_eval_learned_prompts_on_cardiacuda(sam2_tiny_checkpoint, tmp_path):
    import torch

    torch.set_num_threads(1)
    data = write_cardiacuda(tmp_path / "uda", n_videos=3, n_frames=4, size=64, labelled=[0, 1, 3])["root"]
    run = tmp_path / "train"
    rc = main(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(run),
            "--checkpoint",
            str(sam2_tiny_checkpoint),
            "--prompts",
            "learned",
            "--epochs",
            "1",
            "--clip-len",
            "2",
            "--image-size",
            "256",
            "--device",
            "cpu",
            "--val-split",
            "none",
            "--no-progress",
        ]
    )
    assert rc == 0
    assert (run / "adapter").is_dir()

    out = tmp_path / "eval"
    rc = main(
        [
            "eval",
            str(data),
            "--split",
            "test",
            "--prompt",
            "learned",
            "--adapter",
            str(run / "adapter"),
            "--checkpoint",
            str(sam2_tiny_checkpoint),
            "--image-size",
            "256",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader((out / "per_case.csv").read_text().splitlines()))
    assert sorted({r["structure"] for r in rows}) == ["LA", "LV", "RA", "RV"]
    assert {r["method"] for r in rows} == {"vanilla+learned", "samurai+learned"}
    assert all(0.0 <= float(r["dice"]) <= 1.0 for r in rows)
