"""Damaged inputs that used to be scored as if fine or ended in a traceback: each row exits 2
with a message naming the file and the fix, prints no traceback and leaves the working folder
as it was (the contract of ``user_errors.assert_user_error``).

Ground truth read as zeros from a truncated ``.nii.gz``, tracings far outside the frame, two
labels with one name, damaged or NaN class prompts, and validation data whose classes the
learned prompts do not know. Random-init SAM 2.1 hiera-tiny at 256 px, 3-frame clips.
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from user_errors import assert_user_error, run_cli, tree_digest  # noqa: E402

pytestmark = pytest.mark.slow

CLASSES = ["lv", "myo", "la"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, sam2_tiny_checkpoint):
    from samurai.data.synthetic import write_camus2023, write_echonet, write_generic
    from samurai.train.lora import apply_lora, save_adapter
    from samurai.train.model import build_model
    from samurai_sam2 import ClassPrompts

    root = tmp_path_factory.mktemp("damaged")
    camus = write_camus2023(root / "camus", n_patients=1, n_frames=3)["root"]
    gt = camus / "database_nifti" / "patient0001" / "patient0001_2CH_half_sequence_gt.nii.gz"
    data = gt.read_bytes()
    gt.write_bytes(data[: len(data) // 2])  # cut short: ITK reads the rest as zeros

    echonet = write_echonet(root / "echonet", n_videos=1, n_frames=5, size=(32, 32))["root"]
    with (echonet / "VolumeTracings.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    rows[5][3] = "3200"  # X2 of one chord: a hundred frame widths to the right
    with (echonet / "VolumeTracings.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)

    shared = write_generic(root / "shared_names", n_videos=1, n_frames=3)["root"]
    (shared / "labels.json").write_text(json.dumps({"1": "LV", "2": "cavity", "3": "Cavity"}))
    write_generic(root / "generic", n_videos=1, n_frames=3)
    other = write_generic(root / "other_labels", n_videos=1, n_frames=3)["root"]
    (other / "labels.json").write_text(json.dumps({"1": "LV", "2": "MYO", "3": "RA"}))

    model = build_model("tiny", sam2_tiny_checkpoint, image_size=256)
    prompts = ClassPrompts.for_model(model, CLASSES, generator=torch.Generator().manual_seed(0))
    good = root / "adapters" / "good"
    save_adapter(apply_lora(model), good, {"prompts": "learned"}, prompts)
    truncated = root / "adapters" / "truncated"
    shutil.copytree(good, truncated)
    data = (truncated / "class_prompts.safetensors").read_bytes()
    (truncated / "class_prompts.safetensors").write_bytes(data[: len(data) // 2])
    nan = root / "adapters" / "nan"
    with torch.no_grad():
        prompts.tokens[2, 0, 0] = float("inf")
    save_adapter(
        apply_lora(build_model("tiny", sam2_tiny_checkpoint, image_size=256)),
        nan,
        {"prompts": "learned"},
        prompts,
    )

    frames = root / "frames"
    frames.mkdir()
    from PIL import Image

    for t in range(3):
        Image.fromarray(np.full((64, 64, 3), 40 * t, np.uint8)).save(frames / f"{t:05d}.png")
    (root / "cwd").mkdir()
    return root


EVAL = ["eval", "--checkpoint", "{ckpt}", "--image-size", "256", "--out", "{root}/o"]
CHAMBERS = [
    "track",
    "{root}/frames",
    "--chambers",
    "lv,la",
    "--checkpoint",
    "{ckpt}",
    "--image-size",
    "256",
    "--no-video",
    "--out",
    "{root}/o",
]
TRAIN = [
    "train",
    "--data",
    "{root}/generic",
    "--kind",
    "generic",
    "--train-split",
    "none",
    "--val-split",
    "none",
    "--prompts",
    "learned",
    "--checkpoint",
    "{ckpt}",
    "--out",
    "{root}/run",
    "--no-progress",
]

# (id, command line, words the message must contain: the problem and the fix)
CASES = [
    (
        "eval-camus-truncated-ground-truth",
        [*EVAL, "{root}/camus", "--kind", "camus2023"],
        ["patient0001_2CH_half_sequence_gt.nii.gz", "truncated", "re-download"],
    ),
    (
        "eval-echonet-tracing-outside-the-frame",
        [*EVAL, "{root}/echonet", "--kind", "echonet"],
        ["VolumeTracings.csv", "outside its 32x32 frame", "3200", "fix those rows"],
    ),
    (
        "eval-generic-one-name-for-two-labels",
        [*EVAL, "{root}/shared_names"],
        ["labels.json", "'cavity' for ids 2, 3", "its own name"],
    ),
    (
        "track-chambers-class-prompts-truncated",
        [*CHAMBERS, "--adapter", "{root}/adapters/truncated"],
        ["class_prompts.safetensors", "damaged", "re-save"],
    ),
    (
        "track-chambers-class-prompts-inf",
        [*CHAMBERS, "--adapter", "{root}/adapters/nan"],
        ["class_prompts.safetensors", "['la']", "NaN, infinite", "earlier adapter"],
    ),
    (
        "eval-learned-class-prompts-inf",
        [*EVAL, "{root}/generic", "--prompt", "learned", "--adapter", "{root}/adapters/nan"],
        ["class_prompts.safetensors", "NaN, infinite"],
    ),
    (
        "eval-learned-classes-the-adapter-does-not-know",
        [*EVAL, "{root}/other_labels", "--prompt", "learned", "--adapter", "{root}/adapters/good"],
        ["--prompt learned", "'ra'", "do not know", "['lv', 'myo', 'la']", "adapters/good"],
    ),
    (
        "train-val-data-with-other-classes",
        [*TRAIN, "--val-data", "{root}/other_labels"],
        ["other_labels", "'ra'", "do not know", "['lv', 'myo', 'la']", "--classes"],
    ),
]


@pytest.mark.parametrize("argv, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_damaged_input_is_a_clear_exit_2(argv, needles, world, sam2_tiny_checkpoint, monkeypatch):
    monkeypatch.chdir(world / "cwd")
    before = tree_digest(world)
    result = run_cli([a.format(root=world, ckpt=sam2_tiny_checkpoint) for a in argv])
    assert_user_error(result, *needles, workdir=world)
    assert tree_digest(world) == before
