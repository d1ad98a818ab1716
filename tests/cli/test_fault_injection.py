"""`samurai track` killed mid-run, as a batch scheduler or the OOM killer would.

SIGTERM (caught: handled as Ctrl-C) must remove the partial folder and exit 143; SIGKILL (cannot
be caught) leaves one, which the next run on the same ``--out`` removes and reports. The earlier
result survives both. The frame at which each signal arrives is drawn at random (the seed is in
the failure message; ``SAMURAI_FAULT_SEED`` replays one).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from user_errors import leftovers, tree_digest

pytestmark = pytest.mark.slow

# Signals go to frames 1 .. N_FRAMES - 4, so that at least three frames and the finishing steps
# are left after each one, even on a loaded machine where the poll below runs late.
N_FRAMES = 12
REPO = Path(__file__).resolve().parents[2]


def _start(args, cwd):
    env = dict(
        os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "backends")])
    )
    return subprocess.Popen(
        [sys.executable, "-m", "samurai", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_at_frame(proc, root: Path, frame: int, sig: int, seed: int) -> tuple[int, str]:
    """Send ``sig`` once the partial folder holds the mask of ``frame``; (exit status, stderr)."""
    deadline = time.monotonic() + 240
    while not any(root.glob(f"run.partial-*/masks/{frame:05d}.png")):
        assert proc.poll() is None, f"seed {seed}: the run ended before frame {frame}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"seed {seed}: frame {frame} never appeared"
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_sigterm_and_sigkill_leave_no_partial_folder_and_keep_the_earlier_result(
    tmp_path, sam2_tiny_checkpoint
):
    from samurai_phantom import make_phantom

    seed = int(os.environ.get("SAMURAI_FAULT_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    ph = make_phantom(n_frames=N_FRAMES, size=64, dropout=None)
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, f in enumerate(ph.frames):
        Image.fromarray(f).convert("RGB").save(frames / f"{t:05d}.png")
    track = [
        "track",
        frames,
        "--box",
        "6,8,30,44",
        "--checkpoint",
        sam2_tiny_checkpoint,
        "--image-size",
        "256",
        "--no-video",
        "--out",
        "run",
    ]

    first = _start(track, tmp_path)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    earlier = tree_digest(tmp_path / "run")
    assert len(earlier) == N_FRAMES + 4  # masks, one box file, scores.csv, masks.nii.gz, manifest.json

    code, err = _kill_at_frame(
        _start([*track, "--force"], tmp_path), tmp_path, rng.randrange(1, N_FRAMES - 3), signal.SIGTERM, seed
    )
    assert code == 143 and "terminated (SIGTERM)" in err and "Traceback" not in err, (seed, err)
    assert leftovers(tmp_path) == [], seed
    assert tree_digest(tmp_path / "run") == earlier, seed

    code, _ = _kill_at_frame(
        _start([*track, "--force"], tmp_path), tmp_path, rng.randrange(1, N_FRAMES - 3), signal.SIGKILL, seed
    )
    assert code == -signal.SIGKILL
    stale = leftovers(tmp_path)
    assert len(stale) == 1 and stale[0].startswith("run.partial-"), (seed, stale)
    assert tree_digest(tmp_path / "run") == earlier, seed

    # The next run on that --out removes the dead run's folder, says so, and still refuses to
    # replace the earlier result without --force.
    again = _start(track, tmp_path)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 2 and "already exists" in err, (seed, err)
    assert f"removed {stale[0]}" in err and "killed" in err, (seed, err)
    assert leftovers(tmp_path) == [], seed
    assert tree_digest(tmp_path / "run") == earlier, seed
