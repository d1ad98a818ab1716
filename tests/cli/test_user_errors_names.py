"""Bad input met before any work: two runs on one --out, results that would share a name or
land outside --out, options argparse misreads, prompts of the wrong kind.

Every row ends with exit 2, a message naming both sides of the problem and the fix, no
traceback, and the working folder byte for byte as it was. The lock is tested with a real
second process holding the output folder, as a running `track` or `eval` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from user_errors import assert_user_error, run_cli, tree_digest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BOX = "6,8,30,44"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from samurai.data.synthetic import write_generic
    from samurai_phantom import make_phantom

    root = tmp_path_factory.mktemp("names")
    ph = make_phantom(n_frames=3, size=64, dropout=None)

    def frames(folder):
        folder.mkdir(parents=True)
        for t, f in enumerate(ph.frames):
            Image.fromarray(f).convert("RGB").save(folder / f"{t + 1:08d}.jpg")

    frames(root / "frames")
    write_generic(root / "generic", n_videos=1, n_frames=3)
    # LaSOT: two categories each with a sequence named "cat-1"
    for category in ("cat", "dog"):
        seq = root / "lasot" / category / "cat-1"
        frames(seq / "img")
        (seq / "groundtruth.txt").write_text("1,2,10,10\n" * 3)
    # Many videos: two entries that are one output name, one that is the list's own folder
    import cv2

    for folder in ("a", "b"):
        (root / folder).mkdir()
        writer = cv2.VideoWriter(
            str(root / folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 64)
        )
        for f in ph.frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
        writer.release()
    (root / "same_name.txt").write_text("a/clip.mp4\nb/clip.mp4\n")
    (root / "dotdot.txt").write_text("frames\n..\n")
    (root / "boxes.csv").write_text(f"video,obj_id,x1,y1,x2,y2\nclip,1,{BOX}\nframes,1,{BOX}\n")
    (root / "cwd").mkdir()
    return root


TRACK = ["track", "{root}/frames", "--random-weights", "--model", "tiny", "--image-size", "256", "--no-video"]
EVAL = ["eval", "--random-weights", "--model", "tiny", "--image-size", "256"]

# (id, command line, words the message must contain: the problem and the fix)
CASES = [
    (
        "eval-lasot-same-sequence-name",
        [*EVAL, "{root}/lasot", "--lasot", "--out", "{root}/o"],
        ["cat/cat-1", "dog/cat-1", "same name"],
    ),
    (
        "track-many-same-output-name",
        [*TRACK[:1], "{root}/same_name.txt", *TRACK[2:], "--boxes", "{root}/boxes.csv", "--out", "{root}/o"],
        ["a/clip.mp4", "b/clip.mp4", "'clip'"],
    ),
    (
        "track-many-entry-outside-out",
        [*TRACK[:1], "{root}/dotdot.txt", *TRACK[2:], "--boxes", "{root}/boxes.csv", "--out", "{root}/o"],
        ["..", "outside"],
    ),
    (
        "track-box-negative-as-option",
        [*TRACK, "--box", "-10,-10,30,30", "--out", "{root}/o"],
        ["--box=-10,-10,30,30"],
    ),
    (
        "track-mask-is-a-folder",
        [*TRACK, "--mask", "{root}/a", "--out", "{root}/o"],
        ["is a folder", "--masks"],
    ),
]


@pytest.mark.parametrize("argv, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_before_any_work(argv, needles, world, monkeypatch):
    monkeypatch.chdir(world / "cwd")
    before = tree_digest(world)
    result = run_cli([a.format(root=world) for a in argv])
    assert_user_error(result, *needles, workdir=world)
    assert tree_digest(world) == before


HOLD = """
import sys, time
from samurai.output import OutputDir
with OutputDir(sys.argv[1]) as out:
    (out.path / "half.txt").write_text("a result being written")
    print(out.path, flush=True)
    time.sleep(300)
"""


@pytest.mark.parametrize("argv", [[*TRACK, "--box", BOX], [*EVAL, "{root}/generic"]], ids=["track", "eval"])
def test_a_second_run_into_one_out_is_refused_naming_the_first(argv, world, monkeypatch):
    """A real first process is writing --out (its partial folder is there); the second run is
    refused at once, naming its PID, and leaves the first one's partial folder alone."""
    out = world / "busy"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "backends")])}
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        partial = Path(first.stdout.readline().strip())
        assert partial.is_dir()
        monkeypatch.chdir(world / "cwd")
        before = tree_digest(world)
        result = subprocess.run(
            [sys.executable, "-m", "samurai", *[a.format(root=world) for a in argv], "--out", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert "being written by another samurai run" in result.stderr and f"pid {first.pid}" in result.stderr
        assert "Traceback" not in result.stderr
        assert tree_digest(world) == before and (partial / "half.txt").is_file()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stdout.close()


def test_library_chatter_stays_off_the_console(tmp_path):
    """FFmpeg prints its own line for a damaged MP4 (`moov atom not found`) from C, past
    Python's stderr: the command line turns it off, and the user sees samurai's one message."""
    (tmp_path / "damaged.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "backends")])}
    env.pop("OPENCV_LOG_LEVEL", None), env.pop("OPENCV_FFMPEG_LOGLEVEL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "samurai",
            "track",
            str(tmp_path / "damaged.mp4"),
            "--box",
            BOX,
            "--random-weights",
            "--out",
            str(tmp_path / "o"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("samurai track: error: cannot read"), result.stderr
