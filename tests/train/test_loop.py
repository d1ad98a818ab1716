"""Training runs end to end on a tiny synthetic CAMUS dataset (random-init hiera-tiny, 256 px)."""

from __future__ import annotations

import argparse
import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from samurai.data import open_dataset  # noqa: E402
from samurai.train.clips import make_clip  # noqa: E402
from samurai.train.loop import CHECKPOINT_NAME, TrainConfig, clip_forward, train  # noqa: E402
from samurai.train.lora import load_adapter, lora_state_dict  # noqa: E402

pytestmark = pytest.mark.slow


def _cfg(camus_tiny, sam2_tiny_checkpoint, out, **kw):
    base = dict(
        data=str(camus_tiny["root"]),
        out_dir=str(out),
        checkpoint=str(sam2_tiny_checkpoint),
        clip_len=2,
        max_objects=2,
        epochs=2,
        lr=2e-3,
        warmup_steps=1,
        progress=False,
        val_split=None,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


def _fixed_loss(model, clip) -> float:
    model.eval()
    with torch.no_grad():
        return float(clip_forward(model, clip)[0])


def test_short_run_lowers_the_loss_and_changes_only_lora(
    camus_tiny, sam2_tiny_checkpoint, tiny_model, tmp_path
):
    case = open_dataset(camus_tiny["root"], split="train")[0]
    clip = make_clip(case, [0, 1], 256, max_objects=2)
    before = _fixed_loss(copy.deepcopy(tiny_model), clip)
    cfg = _cfg(
        camus_tiny,
        sam2_tiny_checkpoint,
        tmp_path / "run",
        epochs=3,
        box_jitter=0.0,
        val_split="val",
        max_val_cases=1,
    )
    result = train(cfg)
    model = result["model"]
    after = _fixed_loss(model, clip)
    assert after < 0.95 * before
    base = tiny_model.state_dict()
    for name, param in model.named_parameters():
        if "lora_" in name:
            continue
        assert torch.equal(param, base[name.replace(".base_layer", "")]), name
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)
    out = tmp_path / "run"
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert all(0.0 <= h["dice_LV"] <= 1.0 and "dice_MYO" in h for h in history)
    best_epoch = max(range(3), key=lambda e: (history[e]["mean_dice"], -e))
    saved = json.loads((out / "best_adapter" / "train_config.json").read_text())
    assert saved["epoch"] == best_epoch and saved["lr"] == cfg.lr
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    reloaded = load_adapter(copy.deepcopy(tiny_model), out / "adapter")
    assert _fixed_loss(reloaded, clip) == pytest.approx(after, rel=1e-6)


def _cli_args(argv):
    from samurai.commands import train as train_cmd

    parser = argparse.ArgumentParser()
    train_cmd.add_parser(parser.add_subparsers())
    return train_cmd, parser.parse_args(["train", *argv])


def test_resume_after_a_stop_ends_with_the_same_weights(camus_tiny, sam2_tiny_checkpoint, tmp_path, capsys):
    """Uninterrupted run (through the CLI, config file + flags) vs stopped after 3 of 4 steps
    and resumed: bitwise the same adapter."""
    config = tmp_path / "train.json"
    config.write_text(
        json.dumps(
            {
                "data": "overridden-below",
                "checkpoint": str(sam2_tiny_checkpoint),
                "clip_len": 2,
                "max_objects": 1,
                "epochs": 2,
                "lr": 2e-3,
                "warmup_steps": 1,
                "val_split": None,
                "checkpoint_every": 1,
                "device": "cpu",
            }
        )
    )
    train_cmd, args = _cli_args(
        [
            "--config",
            str(config),
            "--data",
            str(camus_tiny["root"]),
            "--out",
            str(tmp_path / "a"),
            "--no-progress",
        ]
    )
    assert train_cmd.run(args) == 0
    assert "done: 4 steps" in capsys.readouterr().out
    state_a = torch.load(tmp_path / "a" / CHECKPOINT_NAME, weights_only=True)

    cfg_b = TrainConfig.from_dict(
        {
            **json.loads(config.read_text()),
            "data": str(camus_tiny["root"]),
            "out_dir": str(tmp_path / "b"),
            "progress": False,
        }
    )
    first = train(cfg_b, stop_after_steps=3)
    assert first["stopped"] and first["global_step"] == 3
    assert not (tmp_path / "b" / "adapter").exists()
    with pytest.raises(ValueError, match="other options.*lr"):
        train(TrainConfig.from_dict({**cfg_b.to_dict(), "lr": 1e-3}))
    second = train(cfg_b)
    assert not second["stopped"] and second["global_step"] == 4
    state_b = torch.load(tmp_path / "b" / CHECKPOINT_NAME, weights_only=True)
    assert state_a["lora"].keys() == state_b["lora"].keys()
    for key in state_a["lora"]:
        assert torch.equal(state_a["lora"][key], state_b["lora"][key]), key
    assert torch.equal(state_a["rng"]["torch"], state_b["rng"]["torch"])
    live = lora_state_dict(second["model"])
    assert all(torch.equal(live[k], state_a["lora"][k]) for k in live)
    steps = [s["step"] for s in state_b["optimizer"]["state"].values()]
    assert np.all(np.asarray([float(s) for s in steps]) == 4)


def test_recipes_parse():
    from pathlib import Path

    from samurai.commands.train import load_config_file

    recipes = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("train_*.yaml"))
    assert {p.name for p in recipes} >= {"train_camus.yaml", "train_echonet.yaml"}
    for path in recipes:
        cfg = TrainConfig.from_dict({**load_config_file(path), "data": "x"})
        assert cfg.lora_r == 8 and cfg.clip_len >= 2


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="unknown training option.*lrate"):
        TrainConfig.from_dict({"data": "x", "lrate": 1})
    with pytest.raises(ValueError, match="--data"):
        TrainConfig.from_dict({})
    with pytest.raises(ValueError, match="clip_len"):
        TrainConfig.from_dict({"data": "x", "clip_len": 1})


def test_cli_user_errors_exit_2(tmp_path, capsys):
    from samurai.cli import main

    assert main(["train", "--data", str(tmp_path), "--set", "clip_len=1"]) == 2
    assert "clip_len=1" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1,\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "cannot parse" in capsys.readouterr().err


@pytest.mark.gpu
def test_short_run_on_cuda_with_bf16_autocast(camus_tiny, sam2_tiny_checkpoint, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cfg = _cfg(
        camus_tiny,
        sam2_tiny_checkpoint,
        tmp_path / "gpu",
        device="cuda",
        amp=True,
        epochs=1,
        val_split="val",
        max_val_cases=1,
    )
    result = train(cfg)
    assert result["global_step"] == 2 and 0.0 <= result["history"][0]["mean_dice"] <= 1.0
    assert all(p.device.type == "cuda" for p in result["model"].parameters())


def test_loss_ignores_unlabelled_frames(tiny_model, val_clip):
    """Sparse supervision: targets on unlabelled frames do not enter the loss."""
    model = copy.deepcopy(tiny_model).eval()
    sparse = val_clip._replace(labelled=torch.tensor([True, False]))
    scrambled = sparse._replace(targets=torch.stack([sparse.targets[0], 1 - sparse.targets[1]]))
    with torch.no_grad():
        full = float(clip_forward(model, val_clip)[0])
        first = float(clip_forward(model, sparse)[0])
        assert float(clip_forward(model, scrambled)[0]) == first
        assert first < full


def test_training_leaves_the_global_generators_alone_and_repeats(camus_tiny, sam2_tiny_checkpoint, tmp_path):
    """A run draws only from local generators (and a seeded fork of torch's): the caller's
    torch / NumPy / ``random`` streams are untouched, and the same config gives the same adapter."""
    import random

    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    runs = [
        train(
            _cfg(
                camus_tiny, sam2_tiny_checkpoint, tmp_path / name, epochs=1, max_objects=1, max_train_cases=1
            )
        )
        for name in ("a", "b")
    ]
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]
    a, b = (lora_state_dict(r["model"]) for r in runs)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(a[k].abs().sum() > 0 for k in a if "lora_B" in k)  # it did train


def test_validation_on_a_folder_of_its_own(camus_tiny, sam2_tiny_checkpoint, tmp_path):
    """``val_data``: the epochs are scored on another folder (here the generic layout, which
    has no splits), exactly as ``evaluate`` scores that folder with the adapter of the epoch."""
    from samurai.data.synthetic import write_generic
    from samurai.train.loop import evaluate

    held_out = write_generic(tmp_path / "held_out", n_videos=2, n_frames=4)["root"]
    cfg = _cfg(
        camus_tiny, sam2_tiny_checkpoint, tmp_path / "run", epochs=1, val_data=str(held_out), val_split=None
    )
    result = train(cfg)
    record = result["history"][-1]
    scored = evaluate(result["model"], open_dataset(held_out, None, None), cfg)
    expected = {f"dice_{scored['names'][k]}": total / count for k, (total, count) in scored["sums"].items()}
    assert expected and {k: record[k] for k in expected} == pytest.approx(expected)
    assert set(expected) == {"dice_LV", "dice_MYO"}  # max_objects=2 of the three labels


def test_validation_folder_is_checked_before_training(camus_tiny, sam2_tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="val_data=.*is not a folder"):
        _cfg(camus_tiny, sam2_tiny_checkpoint, tmp_path / "run", val_data=str(tmp_path / "nope")).validate()
    generic = tmp_path / "generic"
    from samurai.data.synthetic import write_generic

    write_generic(generic, n_videos=1, n_frames=2)
    cfg = _cfg(camus_tiny, sam2_tiny_checkpoint, tmp_path / "run2", val_data=str(generic), val_split="val")
    with pytest.raises(ValueError, match="no splits"):
        train(cfg)
    assert not (tmp_path / "run2" / CHECKPOINT_NAME).exists()
