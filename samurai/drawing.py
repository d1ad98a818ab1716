"""Drawing on RGB frames: the mask overlay and its palette (one colour per object id), prompt
boxes, a text stamp. NumPy and Pillow only."""

from __future__ import annotations

import numpy as np

# Distinct overlay colours per object id (id 1 first); wraps around beyond eight objects.
PALETTE = np.array(
    [
        [230, 25, 75],
        [60, 180, 75],
        [0, 130, 200],
        [255, 225, 25],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
    ],
    np.uint8,
)


def overlay(frame: np.ndarray, labels: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8 [H, W, 3]: ``frame`` (grey or RGB) with each object id tinted and outlined."""
    rgb = np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame
    out = rgb.astype(np.float32)
    for oid in np.unique(labels):
        if oid == 0:
            continue
        m = labels == oid
        colour = PALETTE[(int(oid) - 1) % len(PALETTE)].astype(np.float32)
        out[m] = (1 - alpha) * out[m] + alpha * colour
        edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
        out[edge] = colour
    return out.clip(0, 255).astype(np.uint8)


def draw_box(image: np.ndarray, box, colour) -> np.ndarray:
    """``image`` (RGB uint8) with the outline of ``box`` (x1, y1, x2, y2 pixels, clipped to it)."""
    from PIL import Image, ImageDraw

    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    pil = Image.fromarray(np.ascontiguousarray(image))
    ImageDraw.Draw(pil).rectangle(
        [max(0.0, x1), max(0.0, y1), min(w - 1.0, x2 - 1), min(h - 1.0, y2 - 1)],
        outline=tuple(int(c) for c in colour),
        width=max(1, round(min(h, w) / 128)),
    )
    return np.asarray(pil)


def stamp(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` (RGB uint8) with ``text`` in white on a black band across its top-left corner."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(pil)
    _, _, right, bottom = draw.textbbox((2, 2), text)
    draw.rectangle([0, 0, right + 2, bottom + 2], fill=(0, 0, 0))
    draw.text((2, 2), text, fill=(255, 255, 255))
    return np.asarray(pil)
