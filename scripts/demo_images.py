"""Regenerate the demo pictures in docs/images from one `samurai demo` run.

    python scripts/demo_images.py

Runs `samurai demo --scale 1` (seed 0, 48 frames, 128 px) into a temporary folder and copies
its stills and plots to docs/images/demo_*.png; docs/images/demo_overlay.gif is an excerpt of
its overlay.gif (ten frames around the two events, 32 colours) to keep the page light.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
PLOTS = ("stills.png", "lv_area.png", "lv_dice.png", "rv_dice.png", "dice_per_chamber.png")
# Frames of the excerpt: the LV fading, then the RV dropping out and coming back.
EXCERPT = (22, 24, 26, 28, 30, 34, 36, 38, 40, 43)


def main() -> int:
    from PIL import Image, ImageSequence

    from samurai.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        rc = cli(["demo", "--out", str(out), "--scale", "1"])
        if rc != 0:
            return rc
        for name in PLOTS:
            shutil.copyfile(out / name, IMAGES / f"demo_{name}")
        gif = Image.open(out / "overlay.gif")
        frames = [f.convert("RGB") for i, f in enumerate(ImageSequence.Iterator(gif)) if i in EXCERPT]
        frames = [f.quantize(colors=32) for f in frames]
        frames[0].save(
            IMAGES / "demo_overlay.gif",
            save_all=True,
            append_images=frames[1:],
            duration=500,
            loop=0,
            optimize=True,
        )
    print(f"wrote {', '.join(f'demo_{n}' for n in PLOTS)} and demo_overlay.gif into {IMAGES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
