"""The phantom chamber report of docs/clinical.md and the README (docs/images/clinical_report.png).

SAMURAI's rules with the weight-free phantom segmenter track the four chambers of the echo
phantom; the masks are written as a `samurai track` run folder (masks/, manifest.json naming the
chambers, the phantom's frames, its declared 1.6 mm pixels and 25 fps), `samurai report`
measures it, and headless Chromium takes the screenshot. Everything in it is a PHANTOM:

    python examples/phantom_report.py --out phantom_report

(needs `chromium` on the PATH for the PDF and the screenshot).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np


def write_phantom_run(out: Path, frames: int = 44, size: int = 128, mm_per_pixel: float = 1.6) -> Path:
    """Track the phantom's chambers and write them in the `samurai track --chambers` layout."""
    from samurai.formats import write_png
    from samurai.output import OutputDir
    from samurai_phantom import PhantomSegmenter, make_phantom, track

    ph = make_phantom(n_frames=frames, size=size, mm_per_pixel=mm_per_pixel, dropout=None, rv_dropout=None)
    ids = sorted(ph.labels)
    run = track(ph.frames, {k: ph.masks[0] == k for k in ids}, segmenter=PhantomSegmenter())
    sx_cm = ph.spacing[1] / 10.0
    info = {
        "command": "track",
        "data": "synthetic echo phantom",
        "phantom": True,
        "model": "phantom segmenter",
        "samurai": True,
        "random_weights": False,
        "view": "A4C",
        "spacing_cm": [sx_cm, sx_cm],
        "fps": ph.meta["fps"],
        "names": {str(k): ph.labels[k].lower() for k in ids},
    }
    with OutputDir(out, force=True, info=info) as folder:
        (folder.path / "masks").mkdir()
        (folder.path / "frames").mkdir()
        for t in range(frames):
            labels = np.zeros((size, size), np.uint8)
            for b, k in enumerate(run.obj_ids):
                labels[run.masks[t, b]] = k
            write_png(folder.path / "masks" / f"{t:05d}.png", labels)
            write_png(folder.path / "frames" / f"{t:05d}.png", ph.frames[t])
        folder.info["video"] = str(out / "frames")
    return out


def main() -> None:
    from samurai.cli import main as samurai

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="phantom_report", help="folder for the run and its report")
    parser.add_argument("--screenshot", default="docs/images/clinical_report.png")
    args = parser.parse_args()
    root = Path(args.out)
    root.mkdir(exist_ok=True)
    run = write_phantom_run(root / "a4c_run")
    assert (
        samurai(
            [
                "report",
                str(run),
                "--sex",
                "female",
                "--height",
                "165",
                "--weight",
                "62",
                "--out",
                str(root / "report"),
                "--force",
            ]
        )
        == 0
    )
    exe = shutil.which("chromium")
    if exe:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    exe,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    f"--user-data-dir={profile}",
                    "--window-size=1150,1500",
                    "--hide-scrollbars",
                    f"--screenshot={Path(args.screenshot).resolve()}",
                    (root / "report" / "report.html").resolve().as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        print(f"wrote {args.screenshot}")


if __name__ == "__main__":
    main()
