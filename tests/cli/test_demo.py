"""`samurai demo` runs without torch (and without SciPy / OpenCV) and shows SAMURAI's win, half
by half."""

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
FRAMES = 44  # the scenario's length: both events and five frames after them
PHANTOM = ["phantom-segmenter/" + m for m in ("vanilla", "motion-only", "memory-only", "samurai")]
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
    # This checkout's code (the app and its backends), also beside an install from another one.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "backends")]),
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(BLOCKED), "demo", "--out", str(out), "--frames", str(FRAMES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=out.parent,
        timeout=300,
    )
    return proc, out


def test_demo_runs_without_torch_scipy_or_opencv(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    assert "PHANTOM" in proc.stdout
    names = {p.name for p in out.iterdir()}
    assert {
        "overlay.gif",
        "stills.png",
        "lv_area.png",
        "lv_dice.png",
        "rv_dice.png",
        "dice_per_chamber.png",
        "metrics.csv",
        "per_frame.csv",
        "lv_ef.csv",
        "summary.json",
        "manifest.json",
    } <= names
    # Every file it wrote is named in its printout.
    assert all(name in proc.stdout for name in names)
    assert "overlay.mp4" not in names  # no encoder without OpenCV / imageio-ffmpeg
    assert json.loads((out / "manifest.json").read_text())["data"] == "synthetic phantom"


def test_demo_reports_each_half_of_samurai(demo_run):
    """The table's claims, read back from metrics.csv: motion scoring keeps the fading LV,
    memory selection brings back the RV that drops out, SAMURAI (both) keeps both."""
    proc, out = demo_run
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    # Methods in the order vanilla, motion-only, memory-only, samurai; chambers LV, LA, RV, RA.
    assert [(r["method"], r["chamber"]) for r in rows] == [
        (m, c) for m in PHANTOM for c in ("LV", "LA", "RV", "RA")
    ]
    by = {(r["method"].split("/")[1], r["chamber"]): r for r in rows}
    lost = {key: r["lost"] == "True" for key, r in by.items()}
    dice = {key: float(r["mean_dice"]) for key, r in by.items()}
    assert lost[("vanilla", "LV")] and lost[("vanilla", "RV")]
    assert not lost[("motion-only", "LV")] and lost[("motion-only", "RV")]
    assert not lost[("memory-only", "LV")] and not lost[("memory-only", "RV")]
    assert not any(lost[("samurai", c)] for c in ("LV", "LA", "RV", "RA"))
    assert dice[("samurai", "LV")] > 0.95 > dice[("vanilla", "LV")]
    assert dice[("memory-only", "RV")] > dice[("motion-only", "RV")] + 0.1
    # The printed table is the CSV's, pivoted: one row per chamber, lost tracks starred.
    lv_line = next(line for line in proc.stdout.splitlines() if line.startswith("| LV "))
    cells = [c.strip() for c in lv_line.strip("|").split("|")]
    assert cells == ["LV"] + [
        f"{dice[(m.split('/')[1], 'LV')]:.3f}" + ("*" if lost[(m.split("/")[1], "LV")] else "")
        for m in PHANTOM
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"].startswith("synthetic echo phantom")
    assert summary["lv_ef"][0]["ef_area_length"] == pytest.approx(summary["true_ef_ellipsoid"], abs=3)
    # The per-frame table records the core's decisions, and each variant's memory.
    per_frame = list(csv.DictReader((out / "per_frame.csv").read_text().splitlines()))

    def track(method, chamber):
        return [
            r for r in per_frame if r["method"] == f"phantom-segmenter/{method}" and r["chamber"] == chamber
        ]

    lv = track("samurai", "LV")
    assert len(lv) == FRAMES
    assert lv[-1]["motion_iou"] != "" and int(lv[-1]["stable_frames"]) >= 15
    assert lv[-1]["memory_frames"].split()[0] == str(FRAMES - 1)  # memory for the next frame
    sam, van = track("samurai", "RV"), track("vanilla", "RV")
    # At the end of the RV's dropout vanilla remembers the last six frames, SAMURAI the
    # previous frame and frames before the dropout.
    last = summary["rv_dropout_frames"][-1]
    assert van[last]["memory_frames"].split() == [str(last - k) for k in range(6)]
    kept = [int(f) for f in sam[last]["memory_frames"].split()]
    assert kept[0] == last and all(f < summary["rv_dropout_frames"][0] for f in kept[1:])


def test_demo_stills_name_each_chamber_colour(demo_run):
    """stills.png ends with a legend bar holding a swatch of each chamber's overlay colour."""
    import numpy as np
    from PIL import Image

    from samurai.drawing import PALETTE

    _, out = demo_run
    legend = np.asarray(Image.open(out / "stills.png").convert("RGB"))[-16:].reshape(-1, 3)
    colours = {tuple(c) for c in legend.tolist()}
    assert all(tuple(PALETTE[k - 1].tolist()) in colours for k in (1, 2, 3, 4))


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
    rc = main(
        [
            "demo",
            "--checkpoint",
            str(sam2_tiny_checkpoint),
            "--image-size",
            "256",
            "--frames",
            "3",
            "--size",
            "64",
            "--scale",
            "1",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "a quick pipeline check only" in printed and "no LV fade, no RV dropout" in printed
    methods = PHANTOM + ["sam2-tiny/vanilla", "sam2-tiny/samurai"]
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
    assert len(gif) == 3 and gif[0].shape[1] == 64 * 7  # truth + 6 methods side by side
    assert {
        "stills.png",
        "lv_area.png",
        "lv_dice.png",
        "rv_dice.png",
        "dice_per_chamber.png",
        "summary.json",
    } <= {p.name for p in out.iterdir()}
    assert json.loads((out / "manifest.json").read_text())["complete"]


def test_demo_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "o").mkdir()
    assert main(["demo", "--out", str(tmp_path / "o"), "--frames", "3", "--size", "64"]) == 2
    assert "--force" in capsys.readouterr().err


def test_demo_plots_keep_one_colour_per_method_and_the_tables_order(tmp_path, monkeypatch):
    """Every plot gives a method the same colour, the bars follow the tables' chamber order,
    and no legend overlaps the data area."""
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from samurai.eval import report

    figures = {}

    def keep(fig, path, dpi=100):
        figures[path.name] = fig

    monkeypatch.setattr(report, "save_figure", keep)
    assert main(["demo", "--out", str(tmp_path / "o"), "--frames", "3", "--size", "64", "--scale", "1"]) == 0
    assert set(figures) == {"lv_area.png", "lv_dice.png", "rv_dice.png", "dice_per_chamber.png"}
    colours = {}
    for name, fig in figures.items():
        ax = fig.axes[0]
        if name == "dice_per_chamber.png":
            assert [t.get_text() for t in ax.get_xticklabels()] == ["LV", "LA", "RV", "RA"]
            drawn = {c.get_label(): c.patches[0].get_facecolor() for c in ax.containers}
        else:
            drawn = {
                line.get_label(): line.get_color()
                for line in ax.get_lines()
                if not line.get_label().startswith("_")
            }
            drawn = {k: v for k, v in drawn.items() if k not in ("ED", "ES")}
        for label, colour in drawn.items():
            colours.setdefault(label, set()).add(mcolors.to_hex(colour))
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert not ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)), name
        plt.close(fig)
    methods = ["vanilla", "motion-only", "memory-only", "samurai"]
    assert set(methods) <= set(colours)
    assert all(len(colours[m]) == 1 for m in colours)  # one colour per method across the plots
    assert len({next(iter(colours[m])) for m in methods}) == len(methods)  # and distinct methods differ
