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
