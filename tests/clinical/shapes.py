"""Masks of known geometry for the clinical tests: slices through ellipsoids, rasterised by
pixel centre, in any rotation and pixel spacing. Their sizes come from closed forms only."""

import numpy as np


def ellipse_mask(shape, centre, a, b, theta, cut=None, spacing=(1.0, 1.0)):
    """bool [H, W]: pixels (x = column · sx, y = row · sy) inside the ellipse with semi-axes
    ``a`` along direction ``theta`` (radians from the x axis) and ``b`` across it, centred at
    ``centre`` (physical units); ``cut``: keep only ``u >= cut``, u the coordinate along ``a``
    (a flat valve plane at ``u = cut``, the apex at ``u = a``)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    x = xx * spacing[0] - centre[0]
    y = yy * spacing[1] - centre[1]
    u = x * np.cos(theta) + y * np.sin(theta)
    v = -x * np.sin(theta) + y * np.cos(theta)
    mask = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    if cut is not None:
        mask &= u >= cut
    return mask


def truncated_spheroid_volume(a, b, c, cut):
    """Volume of the ellipsoid x²/a² + y²/b² + z²/c² ≤ 1 on the side x ≥ cut:
    ``π b c ∫_cut^a (1 − x²/a²) dx``."""
    return np.pi * b * c * ((a - cut) - (a**3 - cut**3) / (3 * a * a))


def truncated_ellipse_area(a, b, cut):
    """Area of the ellipse x²/a² + y²/b² ≤ 1 on the side x ≥ cut."""
    ta = np.arccos(np.clip(cut / a, -1, 1))
    return a * b * (ta - np.sin(ta) * np.cos(ta))


# A beating apical view in pixels: chamber -> (base centre (u, v) in the view's own frame,
# u towards the apex; +1 apex side / -1 atrial side; ED semi-axes (long, across); systolic
# factors on them at full contraction).
HEART = {
    "lv": ((2.0, 18.0), +1, (50.0, 20.0), (0.88, 0.80)),
    "la": ((-2.0, 18.0), -1, (24.0, 18.0), (1.20, 1.15)),
    "rv": ((2.0, -19.0), +1, (44.0, 14.0), (0.90, 0.75)),
    "ra": ((-2.0, -19.0), -1, (20.0, 14.0), (1.15, 1.10)),
}


def contraction(n_frames, period, start=0.0):
    """0 at end-diastole (t = k·period), 1 at end-systole (half a period later), cosine."""
    t = np.arange(n_frames) + start
    return 0.5 - 0.5 * np.cos(2 * np.pi * t / period)


def semi_axes(chamber, p, across_factor=1.0, long_factor=1.0):
    """(long, across) semi-axes of ``chamber`` at contraction ``p``."""
    _, _, (a, b), (fa, fb) = HEART[chamber]
    return long_factor * a * (1 + (fa - 1) * p), across_factor * b * (1 + (fb - 1) * p)


def heart_masks(p, theta, chambers=("lv", "la", "rv", "ra"), size=200, across_factor=1.0, long_factor=1.0):
    """chamber -> bool [T, size, size] for contraction values ``p`` [T], the view's long axis at
    angle ``theta``; ``across_factor`` scales the widths (another view of the same chambers),
    ``long_factor`` the lengths (a foreshortened view)."""
    c0 = np.array([size / 2 + 0.37, size / 2 - 0.29])
    axis_u = np.array([np.cos(theta), np.sin(theta)])
    axis_v = np.array([-np.sin(theta), np.cos(theta)])
    out = {}
    for name in chambers:
        (u0, v0), side, _, _ = HEART[name]
        centre = c0 + u0 * axis_u + v0 * axis_v
        frames = []
        for pt in p:
            a, b = semi_axes(name, pt, across_factor, long_factor)
            frames.append(
                ellipse_mask((size, size), centre, a, b, theta if side > 0 else theta + np.pi, cut=0.0)
            )
        out[name] = np.stack(frames)
    return out
