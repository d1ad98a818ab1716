"""A synthetic apical four-chamber echo phantom with ground truth (NumPy only).

The phantom is built to contain the situations SAMURAI was made for: a neighbouring chamber
that looks like the target (the LA below the LV and the RV beside it, almost as dark), a target
that fades for a few frames (acoustic shadowing over the LV), a chamber that drops out of the
picture for a few frames (the RV), and a fast systolic contraction. Chambers are ellipses
whose radii follow a cardiac-phase curve; the picture is a fan-shaped sector with multiplicative
speckle. Everything it returns is labelled as a phantom.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LABELS = {1: "LV", 2: "LA", 3: "RV", 4: "RA"}

# Chamber geometry at end-diastole, in units of the image size (x right, y down; apex at top).
# (centre x, centre y, radius x, radius y, blood brightness, systolic radius scale x, y)
_CHAMBERS = {
    1: (0.600, 0.44, 0.110, 0.210, 0.06, 0.74, 0.86),  # LV: the target, darkest
    2: (
        0.600,
        0.80,
        0.090,
        0.085,
        0.10,
        1.12,
        1.10,
    ),  # LA: a look-alike neighbour; fills while the LV empties
    3: (0.360, 0.47, 0.080, 0.170, 0.09, 0.86, 0.92),  # RV: a look-alike neighbour
    4: (0.360, 0.80, 0.075, 0.080, 0.12, 1.10, 1.08),  # RA
}
_MYOCARDIUM = 0.68
_TISSUE = 0.44
_WALL = 0.055  # myocardial wall thickness, fraction of the image size


@dataclass
class Phantom:
    """A phantom clip: frames, ground-truth label maps and what is known about them."""

    frames: np.ndarray  # uint8 [T, H, W] grey
    masks: np.ndarray  # uint8 [T, H, W], values = keys of ``labels``
    labels: dict[int, str]
    spacing: tuple[float, float]  # (row, col) mm per pixel
    meta: dict = field(default_factory=dict)  # view, fps, ed_index, es_index, ef, dropout_frames


def cardiac_phase(t: np.ndarray, period: float, systole: float = 0.22) -> np.ndarray:
    """Contraction in [0, 1] (0 = end-diastole, 1 = end-systole) at frame times ``t``.

    Systole (a fast cosine ramp up) takes ``systole`` of the period; relaxation takes the rest,
    so the LV empties about three times faster than it fills.
    """
    u = np.mod(np.asarray(t, dtype=np.float64), period) / period
    up = 0.5 - 0.5 * np.cos(np.pi * np.clip(u / systole, 0.0, 1.0))
    down = 0.5 + 0.5 * np.cos(np.pi * np.clip((u - systole) / (1.0 - systole), 0.0, 1.0))
    return np.where(u < systole, up, down)


def _ellipse(yy, xx, cx, cy, rx, ry):
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0


def box_blur(img: np.ndarray, r: int) -> np.ndarray:
    """Separable mean filter of radius ``r`` with edge padding."""
    k = 2 * r + 1
    out = img
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis)
        hi = np.take(c, np.arange(k, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - k), axis=axis)
        out = (hi - lo) / k
    return out


def fade_curve(n_frames: int, window: tuple[int, int] | None) -> np.ndarray:
    """Fade in [0, 1] per frame: 1 inside ``[start, stop)`` with a two-frame ramp in and out
    (the fade is gradual, as shadowing is); all zeros for None."""
    fade = np.zeros(n_frames)
    if window is not None:
        start, stop = window
        i = np.arange(n_frames)
        fade = np.clip(np.minimum(i - start + 1, stop - i) / 2.0, 0.0, 1.0)
    return fade


def make_phantom(
    n_frames: int = 48,
    size: int = 128,
    period: float = 20.0,
    dropout: tuple[int, int] | None = (23, 29),
    dropout_level: float = 0.22,
    rv_dropout: tuple[int, int] | None = (33, 39),
    mm_per_pixel: float = 0.9,
    seed: int = 0,
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
) -> Phantom:
    """Generate an apical four-chamber phantom clip.

    Args:
        n_frames: number of frames ``T``.
        size: image height and width in pixels.
        period: frames per cardiac cycle (the clip starts at end-diastole).
        dropout: frames ``[start, stop)`` during which the LV fades (shadowing): its blood
            pool brightens to ``dropout_level`` and its wall dims to the tissue level, so the
            LV stays visible but faint; None for none. The fade ramps in and out over two
            frames.
        dropout_level: brightness of the LV blood pool at the depth of the fade (0-1 scale;
            tissue is 0.44, the myocardium 0.68).
        rv_dropout: frames ``[start, stop)`` during which the RV drops out of the picture
            entirely (blood pool and wall at the tissue level, with the same ramps), so
            nothing where it was looks like a chamber; None for none.
        mm_per_pixel: isotropic pixel spacing reported in ``spacing``.
        seed: speckle seed.
        shift: ``(x, y)`` displacement of the whole heart, in units of the image size.
        scale: factor on every chamber's radii (the wall keeps its thickness).

    Returns:
        A ``Phantom`` whose ``meta["ef"]`` is the true LV ejection fraction (%) of the
        ellipsoid the LV is drawn from (prolate: long axis = y radius, the two short axes =
        x radius), ``meta["ed_index"]``/``["es_index"]`` the first end-diastolic and
        end-systolic frames, and ``meta["dropout_frames"]``/``["rv_dropout_frames"]`` the
        frames of the two fades.

    >>> ph = make_phantom(n_frames=4, size=64)
    >>> ph.frames.shape, int(ph.masks.max()), ph.meta["rv_dropout_frames"]
    ((4, 64, 64), 4, [])
    """
    if n_frames < 1 or size < 32:
        raise ValueError("make_phantom needs n_frames >= 1 and size >= 32")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    # Fan-shaped sector with its apex at the top centre.
    ang = np.arctan2(xx - 0.5, yy + 0.02)
    rad = np.hypot(xx - 0.5, yy + 0.02)
    sector = (np.abs(ang) < np.deg2rad(46)) & (rad < 1.0)

    t = np.arange(n_frames)
    phase = cardiac_phase(t, period)
    # Per chamber: (fade per frame, blood level at full fade).
    fades = {
        1: (fade_curve(n_frames, dropout), dropout_level),
        3: (fade_curve(n_frames, rv_dropout), _TISSUE),
    }

    frames = np.zeros((n_frames, size, size), np.uint8)
    masks = np.zeros((n_frames, size, size), np.uint8)
    for i in range(n_frames):
        img = np.where(sector, _TISSUE, 0.0)
        label = np.zeros((size, size), np.uint8)
        geometry = {}
        for k, (cx, cy, rx, ry, blood, sx, sy) in _CHAMBERS.items():
            cx, cy, rx, ry = cx + shift[0], cy + shift[1], rx * scale, ry * scale
            rx_i = rx * (1.0 + (sx - 1.0) * phase[i])
            ry_i = ry * (1.0 + (sy - 1.0) * phase[i])
            # Ventricles contract towards the valve plane; atria grow around theirs.
            cy_i = cy + (ry - ry_i) * (1.0 if k in (1, 3) else -1.0)
            geometry[k] = (cx, cy_i, rx_i, ry_i, blood)
        for k, (cx, cy, rx, ry, _) in geometry.items():
            fade = fades[k][0][i] if k in fades else 0.0
            wall = _MYOCARDIUM + (_TISSUE - _MYOCARDIUM) * fade
            img[_ellipse(yy, xx, cx, cy, rx + _WALL, ry + _WALL) & sector] = wall
        for k, (cx, cy, rx, ry, blood) in geometry.items():
            inside = _ellipse(yy, xx, cx, cy, rx, ry) & sector
            fade, faded = fades.get(k, (np.zeros(n_frames), blood))
            img[inside] = blood + (faded - blood) * fade[i]
            label[inside] = k
        # Speckle: multiplicative Rayleigh noise with a short correlation length, plus a
        # little additive noise so the blood pools are not uniformly black.
        speckle = box_blur(rng.rayleigh(1.0, (size, size)) / np.sqrt(np.pi / 2), 1)
        noisy = img * speckle + 0.04 * rng.standard_normal((size, size)) * sector
        frames[i] = np.clip(noisy * 255.0, 0, 255).astype(np.uint8)
        masks[i] = label

    cx, cy, rx, ry, _, sx, sy = _CHAMBERS[1]
    edv = rx * rx * ry  # prolate ellipsoid volume up to a constant factor
    esv = (rx * sx) ** 2 * (ry * sy)
    meta = {
        "view": "4CH",
        "fps": 25.0,
        "ed_index": 0,
        "es_index": int(np.argmax(phase[: int(period)])),
        "ef": 100.0 * (edv - esv) / edv,
        "dropout_frames": [int(i) for i in np.flatnonzero(fades[1][0])],
        "rv_dropout_frames": [int(i) for i in np.flatnonzero(fades[3][0])],
        "phantom": True,
    }
    return Phantom(frames, masks, dict(LABELS), (mm_per_pixel, mm_per_pixel), meta)
