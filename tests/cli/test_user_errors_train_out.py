"""`samurai train --out`: the output-folder rules of every command, with resumption kept.

Each row exits 2 before any work, names the folder and the fix, and leaves the working folder
byte for byte as it was (the user's files, the dataset, a foreign checkpoint.pt). Then what is
not an error: an own run folder (marked, or from before the marker) is resumed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from user_errors import assert_user_error, run_cli, tree_digest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory, sam2_tiny_checkpoint):
    from samurai.data.synthetic import write_generic

    root = tmp_path_factory.mktemp("train_out")
    write_generic(root / "generic", n_videos=1, n_frames=3)
    write_generic(root / "project" / "data", n_videos=1, n_frames=3)
    (root / "thesis").mkdir()
    (root / "thesis" / "chapter1.tex").write_text("years of work")
    (root / "foreign_ckpt").mkdir()
    shutil.copy(sam2_tiny_checkpoint, root / "foreign_ckpt" / "checkpoint.pt")
    (root / "notes.txt").write_text("a plain file")
    (root / "cwd").mkdir()
    return root


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
    "--checkpoint",
    "{ckpt}",
    "--image-size",
    "256",
    "--set",
    "epochs=1",
    "--no-progress",
]

CASES = [
    (
        "train-out-foreign-folder",
        [*TRAIN, "--out", "{root}/thesis"],
        ["thesis", "did not write", "chapter1.tex", "choose another --out"],
    ),
    (
        "train-out-foreign-folder-no-resume",
        [*TRAIN, "--out", "{root}/thesis", "--no-resume"],
        ["did not write", "chapter1.tex"],
    ),
    ("train-out-is-the-data", [*TRAIN, "--out", "{root}/generic"], ["data folder", "outside the data"]),
    (
        "train-out-inside-the-data",
        [*TRAIN, "--out", "{root}/generic/run"],
        ["data folder", "outside the data"],
    ),
    (
        "train-out-holds-the-data",
        [
            "train",
            "--data",
            "{root}/project/data",
            "--kind",
            "generic",
            "--train-split",
            "none",
            "--checkpoint",
            "{ckpt}",
            "--out",
            "{root}/project",
        ],
        ["holds or lies inside the data folder"],
    ),
    (
        "train-out-is-the-val-data",
        [*TRAIN, "--val-data", "{root}/project/data", "--out", "{root}/project/data/run"],
        ["data folder"],
    ),
    (
        "train-out-foreign-checkpoint",
        [*TRAIN, "--out", "{root}/foreign_ckpt"],
        ["checkpoint.pt is not a samurai training checkpoint", "move checkpoint.pt away"],
    ),
    ("train-out-working-directory", [*TRAIN, "--out", "."], ["working directory", "folder of its own"]),
    ("train-out-plain-file", [*TRAIN, "--out", "{root}/notes.txt"], ["notes.txt", "not a folder"]),
    (
        "train-out-under-a-file",
        [*TRAIN, "--out", "{root}/notes.txt/run"],
        ["notes.txt is a file, not a folder"],
    ),
]


@pytest.mark.parametrize("argv, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_train_out_refused(argv, needles, world, sam2_tiny_checkpoint, monkeypatch):
    monkeypatch.chdir(world / "cwd")
    before = tree_digest(world)
    result = run_cli([a.format(root=world, ckpt=sam2_tiny_checkpoint) for a in argv])
    assert_user_error(result, *needles, workdir=world)
    assert tree_digest(world) == before


def test_second_run_into_one_out_is_refused_naming_the_first(world, sam2_tiny_checkpoint, monkeypatch):
    """A real second process holds the lock of --out (as a running `samurai train` does)."""
    out = world / "busy"
    code = textwrap.dedent(f"""
        import time
        from samurai.locks import output_lock
        with output_lock({str(out)!r}):
            print("held", flush=True)
            time.sleep(600)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "backends")])}
    first = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert first.stdout.readline().strip() == "held"
        monkeypatch.chdir(world / "cwd")
        before = tree_digest(world)
        result = run_cli([a.format(root=world, ckpt=sam2_tiny_checkpoint) for a in TRAIN] + ["--out", out])
        assert_user_error(result, "being written by another samurai run", f"pid {first.pid}", workdir=world)
        assert tree_digest(world) == before and not out.exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stdout.close()


@pytest.mark.slow
def test_own_folders_are_resumed_marked_or_not(world, sam2_tiny_checkpoint, tmp_path, monkeypatch):
    """A run stopped after one step is resumed from its folder; the same with the folder of an
    earlier version (no marker); a finished run's folder is resumed as finished."""
    from samurai.train.run_folder import RUN_MARKER

    monkeypatch.chdir(tmp_path)
    base = [a.format(root=world, ckpt=sam2_tiny_checkpoint) for a in TRAIN]
    out = tmp_path / "run"
    first = run_cli([*base, "--out", out, "--stop-after-steps", "1"])
    assert first.code == 0, first.stderr
    assert (out / RUN_MARKER).is_file() and (out / "checkpoint.pt").is_file()
    (out / RUN_MARKER).unlink()  # as an earlier version left it
    again = run_cli([*base, "--out", out])
    assert again.code == 0, again.stderr
    assert "done:" in again.stdout and (out / "adapter").is_dir() and (out / RUN_MARKER).is_file()
