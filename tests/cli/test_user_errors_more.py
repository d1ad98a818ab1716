"""Bad input across the commands' model, device, checkpoint, adapter, training and calibration
options: every case exits 2 with a message that names the problem and the fix, prints no
traceback, leaves no partial output and changes nothing that was there (an earlier run's
result, an earlier calibration file). Plus the first-run behaviour that is not an error:
seeded random weights, ``samurai`` without a command, ``--version``, help texts, the CPU notice.

Random-init SAM 2.1 hiera-tiny at 256 px, 3 frames of 64x64: every case runs in well under a
second except those that build a model (a few seconds).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from user_errors import assert_user_error, run_cli, tree_digest  # noqa: E402

pytestmark = pytest.mark.slow

BOX = "6,8,40,44"
CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def env(tmp_path_factory, sam2_tiny_checkpoint):
    """Inputs shared by the cases: frames, a LaSOT-style sequence, bad checkpoints and
    adapters, box files, and an earlier `samurai track` result that must survive."""
    root = tmp_path_factory.mktemp("user_errors_more")
    rng = np.random.default_rng(0)
    frames = root / "frames"
    frames.mkdir()
    for t in range(3):
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(frames / f"{t:05d}.png")
    lasot = root / "lasot" / "seq1"
    (lasot / "img").mkdir(parents=True)
    for t in range(3):
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(lasot / "img" / f"{t:05d}.png")
    (lasot / "groundtruth.txt").write_text("6,8,30,30\n7,8,30,30\n8,9,30,30\n")

    from samurai.data.synthetic import write_generic

    generic = write_generic(root / "generic", n_videos=1, n_frames=4)["root"]
    ckpt = {"good": Path(sam2_tiny_checkpoint)}
    ckpt["text"] = root / "notes.pt"
    ckpt["text"].write_text("these are not weights")
    ckpt["pickle"] = root / "pickled.pt"
    torch.save({"model": _Opaque()}, ckpt["pickle"])
    state = dict(torch.load(sam2_tiny_checkpoint, weights_only=True)["model"])
    state["no_obj_ptr"] = torch.full_like(state["no_obj_ptr"], float("nan"))
    ckpt["nan"] = root / "nan.pt"
    torch.save({"model": state}, ckpt["nan"])

    adapters = {}
    for name, config, weights in (
        ("garbage_weights", '{"peft_type": "LORA", "r": 8, "lora_alpha": 8}', b"\x00garbage" * 8),
        ("bad_json", '{"peft_type": "LORA", "r": 8,', b""),
        ("bad_rank", '{"peft_type": "LORA", "r": "eight", "lora_alpha": 8}', b""),
    ):
        folder = root / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text(config)
        (folder / "adapter_model.safetensors").write_bytes(weights)
        adapters[name] = folder

    boxes = {}
    for name, lines in (("two_rows", "10,10,50,60\n12,11,50,61\n"), ("still", "10,10,50,60\n" * 3)):
        boxes[name] = root / f"{name}.txt"
        boxes[name].write_text(lines)

    earlier = root / "work" / "earlier"
    earlier.parent.mkdir()
    result = run_cli(
        [
            "track",
            frames,
            "--box",
            BOX,
            "--random-weights",
            "--image-size",
            "256",
            "--no-video",
            "--out",
            earlier,
        ]
    )
    assert result.code == 0, result.stderr
    (root / "work" / "noise.json").write_text('{"an": "earlier calibration"}\n')
    (root / "work" / "a_folder").mkdir()
    return {
        "root": root,
        "work": root / "work",
        "frames": frames,
        "lasot": lasot.parent,
        "generic": generic,
        "ckpt": ckpt,
        "adapter": adapters,
        "boxes": boxes,
        "earlier": earlier,
    }


class _Opaque:
    """A Python object pickled into a checkpoint (a weights-only load refuses it)."""


@dataclass
class Case:
    argv: Callable[[dict], list]
    needles: tuple[str, ...]
    needs_no_cuda: bool = False


def _track(e, *extra, ckpt="good"):
    weights = ["--random-weights"] if ckpt is None else ["--checkpoint", e["ckpt"][ckpt]]
    return [
        "track",
        e["frames"],
        "--box",
        BOX,
        *weights,
        "--image-size",
        "256",
        "--no-video",
        "--out",
        e["earlier"],
        "--force",
        *extra,
    ]


def _eval(e, *extra):
    return [
        "eval",
        e["lasot"],
        "--lasot",
        "--random-weights",
        "--image-size",
        "256",
        "--out",
        e["earlier"],
        "--force",
        *extra,
    ]


def _train(e, *extra):
    return ["train", "--data", e["frames"], "--out", e["work"] / "run", "--no-progress", *extra]


def _calibrate(e, *extra):
    return ["calibrate", *extra]


CASES = {
    # --image-size: one rule (a multiple of 32), the same message for every command
    "track-image-size-80": Case(
        lambda e: _track(e, "--image-size", "80"), ("--image-size", "multiple of 32", "use e.g. 64 or 96")
    ),
    "track-image-size-0": Case(lambda e: _track(e, "--image-size", "0"), ("--image-size", "positive")),
    "eval-image-size-100": Case(lambda e: _eval(e, "--image-size", "100"), ("multiple of 32", "96 or 128")),
    "train-image-size-80": Case(
        lambda e: _train(e, "--image-size", "80"), ("image_size=80", "multiple of 32")
    ),
    # --device
    "track-device-cuda": Case(
        lambda e: _track(e, "--device", "cuda"),
        ("no CUDA device is visible", "--device cpu"),
        needs_no_cuda=True,
    ),
    "eval-device-cuda1": Case(
        lambda e: _eval(e, "--device", "cuda:1"),
        ("no CUDA device is visible", "--device cpu"),
        needs_no_cuda=True,
    ),
    "train-device-cuda": Case(
        lambda e: _train(e, "--device", "cuda"),
        ("no CUDA device is visible", "--device cpu"),
        needs_no_cuda=True,
    ),
    "track-device-nonsense": Case(
        lambda e: _track(e, "--device", "gpu0"), ("'gpu0' is not a torch device", "cpu, cuda")
    ),
    # checkpoints
    "track-checkpoint-text": Case(
        lambda e: _track(e, ckpt="text"), ("not a readable PyTorch checkpoint", "download it again")
    ),
    "track-checkpoint-pickle": Case(
        lambda e: _track(e, ckpt="pickle"),
        ("not an official SAM 2 checkpoint", "never load an untrusted pickle", "_Opaque"),
    ),
    "track-checkpoint-nan": Case(
        lambda e: _track(e, ckpt="nan"), ("NaN or infinite weights", "no_obj_ptr", "use another checkpoint")
    ),
    "eval-checkpoint-nan": Case(
        lambda e: [
            "eval",
            e["lasot"],
            "--lasot",
            "--checkpoint",
            e["ckpt"]["nan"],
            "--image-size",
            "256",
            "--out",
            e["earlier"],
            "--force",
        ],
        ("NaN or infinite weights", "no_obj_ptr"),
    ),
    # adapters
    "track-adapter-garbage-weights": Case(
        lambda e: _track(e, "--adapter", e["adapter"]["garbage_weights"]),
        ("adapter_model.safetensors is damaged", "re-save the adapter"),
    ),
    "track-adapter-bad-json": Case(
        lambda e: _track(e, "--adapter", e["adapter"]["bad_json"]),
        ("adapter_config.json is damaged", "re-save the adapter"),
    ),
    "track-adapter-bad-rank": Case(
        lambda e: _track(e, "--adapter", e["adapter"]["bad_rank"]),
        ("adapter_config.json", "re-save the adapter"),
    ),
    "eval-adapter-garbage-weights": Case(
        lambda e: _eval(e, "--adapter", e["adapter"]["garbage_weights"]),
        ("adapter_model.safetensors is damaged",),
    ),
    # --seed is an int
    "track-seed-not-int": Case(
        lambda e: _track(e, "--seed", "abc", ckpt=None), ("--seed", "invalid int value")
    ),
    # training options: type and range, named, before any folder is made
    "train-epochs-abc": Case(
        lambda e: _train(e, "--set", "epochs=abc"), ("epochs='abc'", "whole number", "epochs=10")
    ),
    "train-loss-weights-5": Case(
        lambda e: _train(e, "--set", "loss_weights=5"), ("loss_weights=5", "mapping", '"focal": 20')
    ),
    "train-loss-weight-text": Case(
        lambda e: _train(e, "--set", 'loss_weights={"dice": "x"}'), ("loss_weights.dice='x'", "number")
    ),
    "train-clip-len-2.5": Case(
        lambda e: _train(e, "--set", "clip_len=2.5"), ("clip_len=2.5", "whole number")
    ),
    "train-amp-no": Case(lambda e: _train(e, "--set", 'amp="no"'), ("amp='no'", "true or false")),
    "train-box-jitter-negative": Case(
        lambda e: _train(e, "--set", "box_jitter=-5"), ("box_jitter=-5", "[0, 1]")
    ),
    "train-val-data-missing": Case(
        lambda e: _train(e, "--val-data", e["work"] / "no_such_folder"),
        ("val_data=", "is not a folder", "held-out"),
    ),
    "train-lr-text": Case(lambda e: _train(e, "--set", "lr=fast"), ("lr='fast'", "number", "lr=0.0001")),
    "train-lr-zero": Case(lambda e: _train(e, "--set", "lr=0"), ("lr=0.0", "> 0")),
    "train-seed-negative": Case(lambda e: _train(e, "--seed", "-1"), ("seed=-1", ">= 0")),
    "train-targets-not-list": Case(
        lambda e: _train(e, "--set", "lora_targets=5"), ("lora_targets=5", "list of module names")
    ),
    "train-kind-unknown": Case(
        lambda e: _train(e, "--set", "kind=camus2000"), ("kind='camus2000'", "camus2023")
    ),
    "train-max-objects-0": Case(lambda e: _train(e, "--max-objects", "0"), ("max_objects=0", ">= 1")),
    "train-checkpoint-missing": Case(
        lambda e: _train(e, "--checkpoint", e["root"] / "nope.pt"),
        ("nope.pt' does not exist", "SAM 2 .pt file"),
    ),
    # ... and one that fails after the run folder was made: the folder goes again
    "train-checkpoint-nan": Case(
        lambda e: [
            "train",
            "--data",
            e["generic"],
            "--kind",
            "generic",
            "--train-split",
            "none",
            "--val-split",
            "none",
            "--checkpoint",
            e["ckpt"]["nan"],
            "--out",
            e["work"] / "run",
            "--no-progress",
        ],
        ("NaN or infinite weights", "no_obj_ptr"),
    ),
    # ... the same loader for Florence-2 training (--model florence2)
    "train-florence2-epochs-abc": Case(
        lambda e: _train(e, "--model", "florence2", "--set", "epochs=abc"),
        ("epochs='abc'", "whole number", "epochs=10"),
    ),
    "train-florence2-tasks-not-list": Case(
        lambda e: _train(e, "--model", "florence2", "--set", "tasks=box"),
        ("tasks='box'", "list of tasks", '["box", "polygon"]'),
    ),
    "train-florence2-polygon-points-2.5": Case(
        lambda e: _train(e, "--model", "florence2", "--set", "polygon_points=2.5"),
        ("polygon_points=2.5", "whole number"),
    ),
    "train-florence2-weight-decay-negative": Case(
        lambda e: _train(e, "--model", "florence2", "--set", "weight_decay=-1"), ("weight_decay=-1.0", ">= 0")
    ),
    "train-florence2-kind-unknown": Case(
        lambda e: _train(e, "--model", "florence2", "--set", "kind=camus2000"),
        ("kind='camus2000'", "camus2023"),
    ),
    "train-florence2-sam2-option": Case(
        lambda e: _train(e, "--model", "florence2", "--set", "clip_len=4"),
        ("unknown option(s) for --model florence2", "clip_len"),
    ),
    "train-florence2-yaml-types": Case(
        lambda e: [
            "train",
            "--model",
            "florence2",
            "--config",
            _yaml(e, "lr: fast\n"),
            "--data",
            e["frames"],
            "--out",
            e["work"] / "run",
        ],
        ("lr='fast'", "number"),
    ),
    "train-config-yaml-types": Case(
        lambda e: [
            "train",
            "--config",
            _yaml(e, "epochs: many\n"),
            "--data",
            e["frames"],
            "--out",
            e["work"] / "run",
        ],
        ("epochs='many'", "whole number"),
    ),
    # calibrate: the output paths are checked before fitting; tracks that cannot identify the noise
    "calibrate-out-is-folder": Case(
        lambda e: _calibrate(
            e, e["lasot"] / "seq1" / "groundtruth.txt", "--holdout", "0", "-o", e["work"] / "a_folder"
        ),
        ("is a folder", "give a file name"),
    ),
    "calibrate-out-under-a-file": Case(
        lambda e: _calibrate(
            e,
            e["lasot"] / "seq1" / "groundtruth.txt",
            "--holdout",
            "0",
            "-o",
            e["work"] / "noise.json" / "n.json",
        ),
        ("noise.json is a file, not a folder", "choose another path"),
    ),
    "calibrate-report-is-folder": Case(
        lambda e: _calibrate(
            e,
            e["lasot"] / "seq1" / "groundtruth.txt",
            "--holdout",
            "0",
            "-o",
            e["work"] / "new.json",
            "--report",
            e["work"] / "a_folder",
        ),
        ("--report", "is a folder"),
    ),
    "calibrate-two-rows": Case(
        lambda e: _calibrate(e, e["boxes"]["two_rows"], "--holdout", "0", "-o", e["work"] / "noise.json"),
        ("too few to identify", "8 noise weights", "at least 3 boxes"),
    ),
    "calibrate-still-box": Case(
        lambda e: _calibrate(e, e["boxes"]["still"], "--holdout", "0", "-o", e["work"] / "noise.json"),
        ("do not vary enough to identify the noise", "real motion"),
    ),
    # demo: --model has the same choices as track
    "demo-model-unknown": Case(
        lambda e: ["demo", "--model", "huge", "--out", e["work"] / "demo"],
        ("--model", "'huge' is not a model", "medsam2 or hf:DIR"),
    ),
    "demo-image-size-80": Case(
        lambda e: [
            "demo",
            "--frames",
            "3",
            "--checkpoint",
            e["ckpt"]["good"],
            "--image-size",
            "80",
            "--out",
            e["work"] / "demo",
        ],
        ("multiple of 32",),
    ),
}


def _yaml(e, text: str) -> Path:
    path = e["root"] / "bad_types.yaml"
    path.write_text(text)
    return path


def _snapshot(folder: Path) -> tuple[dict, list]:
    return tree_digest(folder), sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_a_clear_exit_2_and_touches_nothing(case, env, monkeypatch):
    if case.needs_no_cuda and CUDA:
        pytest.skip("a CUDA device is visible here")
    monkeypatch.chdir(env["work"])
    before = _snapshot(env["work"])
    result = run_cli(case.argv(env))
    assert_user_error(result, *case.needles, workdir=env["work"])
    assert _snapshot(env["work"]) == before  # nothing written, the earlier result intact


def test_the_table_covers_every_command():
    assert {name.split("-")[0] for name in CASES} == {"track", "eval", "train", "calibrate", "demo"}
    assert len(CASES) >= 20


# ----------------------------------------------------------------------------- not errors


def test_random_weights_are_seeded(env, tmp_path):
    """Two runs with the same --seed give the same outputs; another seed, other weights."""

    def outputs(seed, name):
        out = tmp_path / name
        result = run_cli(
            [
                "track",
                env["frames"],
                "--box",
                BOX,
                "--random-weights",
                "--seed",
                seed,
                "--image-size",
                "256",
                "--no-video",
                "--out",
                out,
            ]
        )
        assert result.code == 0, result.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["seed"] == int(seed) and manifest["random_weights"] is True
        digest = tree_digest(out)
        del digest["manifest.json"]
        return digest, (out / "scores.csv").read_text()

    first, first_scores = outputs("3", "a")
    again, _ = outputs("3", "b")
    other, other_scores = outputs("4", "c")
    assert first == again
    assert other_scores != first_scores  # other weights: other predicted IoUs


def test_bare_samurai_prints_help_and_version_exists():
    from samurai import __version__

    bare = run_cli([])
    assert bare.code == 0 and "usage: samurai" in bare.stdout
    assert all(name in bare.stdout for name in ("track", "eval", "demo", "train", "calibrate"))
    version = run_cli(["--version"])
    assert version.code == 0 and version.stdout.strip() == f"samurai {__version__}"


def _help(command: str) -> str:
    result = run_cli([command, "--help"])
    assert result.code == 0
    return " ".join(result.stdout.split())  # argparse wraps lines


def _subparser(command: str):
    from samurai.cli import build_parser

    parser = build_parser()
    return next(a for a in parser._actions if a.dest == "command").choices[command]


def test_train_help_gives_every_option_a_help_text_and_its_default():
    from samurai.train.config import defaults

    options = [a for a in _subparser("train")._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 25
    for action in options:
        assert action.help and action.help.count("(default: ") == 1, (action.option_strings, action.help)
    text = _help("train")
    for key in ("epochs", "clip_len", "lora_r", "warmup_steps", "checkpoint_every", "image_size"):
        assert f"(default: {defaults()[key]})" in text


def test_one_default_style_and_demo_model_choices():
    for command in ("track", "eval", "demo", "train", "calibrate"):
        for option in _help(command).split(" --")[1:]:
            assert option.count("(default:") <= 1, (command, option)  # not "(default: x) (default: None)"
    demo, track = _help("demo"), _help("track")
    choices = "tiny, small, base_plus, large, medsam2"
    assert choices in demo and choices in track and choices in _help("eval")
    assert "multiple of 32" in track and "multiple of 32" in demo and "multiple of 32" in _help("eval")


def test_cpu_notice_estimates_the_time_and_suggests_a_size():
    from types import SimpleNamespace

    from samurai.predictors import CPU_MODEL_FACTOR, CPU_SECONDS_PER_FRAME, cpu_notice

    cpu = SimpleNamespace(device=torch.device("cpu"), image_size=1024)
    line = cpu_notice(cpu, "tiny", 200)
    minutes = round(CPU_SECONDS_PER_FRAME[1024] * 200 / 60)
    assert f"about {minutes} min for 200 frames" in line and "estimate" in line
    assert "--image-size 512" in line and "--image-size 256" in line
    assert (
        cpu_notice(SimpleNamespace(device=torch.device("cpu"), image_size=256), "tiny", 10).count(
            "--image-size"
        )
        == 0
    )
    per_frame = cpu_notice(SimpleNamespace(device=torch.device("cpu"), image_size=512), "large", None)  # eval
    large = CPU_MODEL_FACTOR["large"]
    assert f"about {CPU_SECONDS_PER_FRAME[512] * large:.1f} s per frame and object" in per_frame
    assert f"--image-size 256: ~{CPU_SECONDS_PER_FRAME[256] * large:.1f} s per frame" in per_frame
    assert cpu_notice(SimpleNamespace(device=torch.device("cuda"), image_size=1024), "tiny", 200) is None


def test_training_outputs_get_the_modes_of_track_outputs(tmp_path):
    """The checkpoint file and adapter folders are written like every other output (not 0600 /
    0700 as mkstemp / mkdtemp make them)."""
    from samurai.output import atomic_write_text
    from samurai.train.loop import atomic_torch_save
    from samurai.train.lora import _atomic_dir

    atomic_write_text(tmp_path / "reference.txt", "x")
    (tmp_path / "reference_dir").mkdir()
    atomic_torch_save({"step": torch.zeros(1)}, tmp_path / "checkpoint.pt")
    _atomic_dir(tmp_path / "adapter", lambda folder: (folder / "a.json").write_text("{}"))
    mode = os.stat(tmp_path / "reference.txt").st_mode & 0o777
    assert os.stat(tmp_path / "checkpoint.pt").st_mode & 0o777 == mode
    assert (
        os.stat(tmp_path / "adapter").st_mode & 0o777 == os.stat(tmp_path / "reference_dir").st_mode & 0o777
    )


def test_training_options_are_coerced_once_in_the_loader(tmp_path):
    """PyYAML reads ``lr: 1e-4`` (no dot) as a string: number options accept numeric strings;
    ints are accepted for float options; the Python API goes through the same checks."""
    from samurai.commands.train import load_config_file
    from samurai.train.config import TrainConfig

    path = tmp_path / "recipe.yaml"
    path.write_text("lr: 1e-4\nlora_alpha: 16\nepochs: '3'\nloss_weights: {dice: 2}\n")
    values = load_config_file(path)
    assert values["lr"] == "1e-4"  # what PyYAML gives
    cfg = TrainConfig.from_dict({**values, "data": "x"})
    assert (cfg.lr, cfg.lora_alpha, cfg.epochs, cfg.loss_weights) == (1e-4, 16.0, 3, {"dice": 2.0})
    assert type(cfg.lr) is float and type(cfg.lora_alpha) is float and type(cfg.epochs) is int
    with pytest.raises(ValueError, match=r"clip_len=2\.5 must be a whole number"):
        TrainConfig(data="x", clip_len=2.5).validate()


def test_the_training_options_module_loads_no_torch():
    """``samurai train --help`` shows TrainConfig's defaults without loading torch."""
    import subprocess
    import sys

    code = "import sys, samurai.train.config, samurai.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
