"""The files that ``samurai demo``, ``samurai track`` and ``samurai eval`` write stay byte for byte
what they were when the reference was recorded (tests/outputs_reference.json), apart from the
manifest's ``packages`` (installed versions).

The reference was recorded from the code before the app layer was reorganised into library
modules (samurai/predictors.py, prompts.py, tracking.py, ...): a reorganisation moves code, it
must not change a single output byte. Files added since (``track``'s masks.nii.gz) joined the
reference with their own digests, as did eval's ``masks/<case>/<method>/masks.nii.gz``; the
manifests are compared without the keys added with them (ADDED_MANIFEST_FIELDS, and the added
files in its ``files`` list), so every byte recorded before still has to match. The runs are small (a 12-frame phantom, a 3-frame
synthetic CAMUS patient and a 4-frame clip at 256 px, random-init SAM 2 from a fixed seed), run
in-process and from a relative output path so that the manifests' argv is the same on every
machine.

To record a new reference after an intended change of the outputs:
``SAMURAI_RECORD_OUTPUTS=1 python -m pytest tests/test_outputs_unchanged.py`` (and say why in
the commit).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

# One torch thread, whatever earlier tests left: the last digits of the scores depend on how many
# threads split a reduction, and the reference must not depend on the test order.
pytestmark = pytest.mark.usefixtures("single_torch_thread")

REFERENCE = Path(__file__).with_name("outputs_reference.json")
# Manifest fields that differ between installs, not between code versions.
VOLATILE_MANIFEST_FIELDS = ("packages",)
# Manifest fields and files added after the reference was recorded (the mask exports of issue 21:
# the source's units, frame time and study hash, and masks.nii.gz, track's and eval's per case
# and method); the files are in the reference with their own digests.
ADDED_MANIFEST_FIELDS = ("source", "exports")
ADDED_FILES = ("masks.nii.gz",)


def _digest(path: Path) -> str:
    data = path.read_bytes()
    if path.name == "manifest.json":
        manifest = json.loads(data)
        for key in VOLATILE_MANIFEST_FIELDS + ADDED_MANIFEST_FIELDS:
            manifest.pop(key, None)
        if isinstance(manifest.get("files"), list):
            manifest["files"] = [f for f in manifest["files"] if Path(f).name not in ADDED_FILES]
        data = json.dumps(manifest, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): _digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_clip(folder: Path) -> None:
    from fixtures_sam2 import make_synthetic_frames
    from PIL import Image

    folder.mkdir()
    for i, frame in enumerate(make_synthetic_frames(num_frames=4)):
        Image.fromarray(frame).save(folder / f"{i:05d}.png")


def _run_all(root: Path) -> dict[str, dict[str, str]]:
    pytest.importorskip("sam2")
    from samurai.cli import main
    from samurai.data.synthetic import write_camus2023

    os.chdir(root)
    write_camus2023(Path("camus"), n_patients=1, n_frames=3)
    _write_clip(Path("clip"))
    model = ["--random-weights", "--seed", "0", "--image-size", "256"]
    runs = {
        "demo": ["demo", "--out", "demo", "--frames", "12"],
        "track": ["track", "clip", "--box", "14,28,46,52", "--box", "85,46,105,74", "--out", "track", *model],
        "eval": ["eval", "camus", "--out", "eval", *model],
    }
    for name, argv in runs.items():
        assert main(argv) == 0, name
    return {name: _digests(Path(name)) for name in runs}


def test_demo_track_and_eval_write_the_recorded_bytes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    got = _run_all(tmp_path)
    if os.environ.get("SAMURAI_RECORD_OUTPUTS"):
        REFERENCE.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(REFERENCE.read_text())
    for run, files in want.items():
        assert sorted(got[run]) == sorted(files), f"{run}: other files written"
        changed = [name for name in files if got[run][name] != files[name]]
        assert not changed, f"{run}: these files changed: {changed}"
