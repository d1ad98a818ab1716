"""`samurai demo` runs without torch (and without SciPy / OpenCV) and shows SAMURAI's win."""

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from samurai.cli import main

ROOT = Path(__file__).resolve().parents[2]
# What a demo-only install lacks: the demo must not need any of these.
BLOCKED = ("torch", "torchvision", "sam2", "scipy", "cv2", "peft", "hydra", "SimpleITK", "nibabel", "tqdm")

RUNNER = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[1].split(","))


    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed (blocked by the test)")
            return None


    sys.meta_path.insert(0, Block())
    from samurai.cli import main

    rc = main(sys.argv[2:])
    loaded = sorted(m for m in BLOCKED if m in sys.modules)
    assert not loaded, f"the demo imported {loaded}"
    sys.exit(rc)
    """
)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(BLOCKED), "demo", "--out", str(out), "--frames", "40"],
        capture_output=True, text=True, env=env, cwd=out.parent, timeout=300,
    )
    return proc, out


def test_demo_runs_without_torch_scipy_or_opencv(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    assert "PHANTOM" in proc.stdout
    names = {p.name for p in out.iterdir()}
    assert {"overlay.gif", "stills.png", "lv_area.png", "lv_dice.png", "dice_per_chamber.png",
            "metrics.csv", "per_frame.csv", "lv_ef.csv", "summary.json", "manifest.json"} <= names
    assert "overlay.mp4" not in names  # no encoder without OpenCV / imageio-ffmpeg
    assert json.loads((out / "manifest.json").read_text())["data"] == "synthetic phantom"


def test_demo_reports_samurai_keeping_the_lv(demo_run):
    _, out = demo_run
    rows = {(r["method"], r["chamber"]): r for r in csv.DictReader((out / "metrics.csv").read_text().splitlines())}
    sam, van = rows[("phantom-segmenter/samurai", "LV")], rows[("phantom-segmenter/vanilla", "LV")]
    assert sam["lost"] == "False" and van["lost"] == "True"
    assert float(sam["mean_dice"]) > 0.95 > float(van["mean_dice"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"].startswith("synthetic echo phantom")
    assert summary["lv_ef"][0]["ef_area_length"] == pytest.approx(summary["true_ef_ellipsoid"], abs=3)
    # The per-frame table records the core's decisions.
    frames = [r for r in csv.DictReader((out / "per_frame.csv").read_text().splitlines())
              if r["method"] == "phantom-segmenter/samurai" and r["chamber"] == "LV"]
    assert len(frames) == 40
    assert frames[-1]["motion_iou"] != "" and int(frames[-1]["stable_frames"]) >= 15
    assert frames[-1]["memory_frames"].split()[0] == "39"  # memory for the next frame


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frames", "2"], "--frames 3 or more"),
        (["--size", "20"], "64 to 512"),
        (["--checkpoint", "missing.pt"], "does not exist"),
    ],
)
def test_demo_argument_errors(args, message, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "o"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_demo_with_a_sam2_checkpoint_on_a_short_clip(sam2_tiny_checkpoint, tmp_path, capsys):
    """The SAM 2 path of the demo, end to end, on 3 frames (a pipeline check: no fade yet)."""
    out = tmp_path / "o"
    rc = main(["demo", "--checkpoint", str(sam2_tiny_checkpoint), "--image-size", "256",
               "--frames", "3", "--size", "64", "--scale", "1", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "a quick pipeline check only" in printed and "no LV fade" in printed
    methods = ["phantom-segmenter/vanilla", "phantom-segmenter/samurai", "sam2-tiny/vanilla", "sam2-tiny/samurai"]
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    assert [(r["method"], r["chamber"]) for r in rows] == [
        (m, c) for m in methods for c in ("LV", "LA", "RV", "RA")
    ]
    assert all(0.0 <= float(r["mean_dice"]) <= 1.0 for r in rows)
    per_frame = list(csv.DictReader((out / "per_frame.csv").read_text().splitlines()))
    assert sum(r["method"].startswith("sam2-tiny/") for r in per_frame) == 2 * 3 * 4
    ef_methods = [r["method"] for r in csv.DictReader((out / "lv_ef.csv").read_text().splitlines())]
    assert ef_methods == ["truth (phantom masks)"] + methods
    import imageio.v2 as imageio

    gif = imageio.mimread(out / "overlay.gif")
    assert len(gif) == 3 and gif[0].shape[1] == 64 * 5  # truth + 4 methods side by side
    assert {"stills.png", "lv_area.png", "lv_dice.png", "dice_per_chamber.png", "summary.json"} <= {
        p.name for p in out.iterdir()
    }
    assert json.loads((out / "manifest.json").read_text())["complete"]


def test_demo_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "o").mkdir()
    assert main(["demo", "--out", str(tmp_path / "o"), "--frames", "32", "--size", "64"]) == 2
    assert "--force" in capsys.readouterr().err
