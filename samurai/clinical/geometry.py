"""Chamber geometry from one binary mask: contour, long axis, method of discs, area-length.

Everything is computed from the mask's outline in physical coordinates (``x = column · sx``,
``y = row · sy``), never from the image axes, so a rotated or tilted view gives the same numbers
(up to the pixel grid).

- **Contour**: the mask's outline at level 0.5 (marching squares, ``contourpy``), the largest
  closed outline when the mask has several pieces; its area (shoelace) is the chamber's area.
- **Annulus** (mitral valve plane for the LV and LA, tricuspid for the RV and RA): the tracker's
  masks end at the valve plane in a straight cut, which is the longest edge of the outline's
  convex hull (hull vertices within :data:`STRAIGHT_TOL_PX` pixels of one chord count as one
  edge: a cut through the pixel grid is a staircase). That edge is taken as the annulus when it
  is at least :data:`BASE_MIN_FRACTION` of the outline's largest diameter (Feret diameter) and
  the long axis stands on it at :data:`BASE_MIN_ANGLE_DEG` or steeper. The hinge points are the
  outline points within :data:`CUT_BAND_PX` of that chord farthest along it; the annulus
  midpoint lies halfway between them, on the outline's mean line along the cut.
  An outline with no such straight cut (a closed rounded shape, e.g. a full ellipse) has no
  annulus: its long axis is then its Feret diameter (``LongAxis.has_base`` is False).
- **Apex** (the atrial roof for the atria): where the outline is farthest from the annulus
  midpoint. Across a rounded cap the distance hardly changes, so its direction is the peak of a
  parabola fitted to the distance of the outline points within :data:`APEX_BAND` of the
  greatest one (the apical cap), and the apex is the outline's crossing in that direction.
  The long axis runs from the annulus midpoint to the apex; ``L`` is its length.
- **Method of discs** (modified Simpson): ``n`` discs perpendicular to the long axis, at the
  mid-levels ``(k + ½)·L/n`` from the annulus; a disc's diameter is the length of the outline's
  chord at that level. Single plane ``V = π/4 · Σ d_k² · L/n``; biplane (apical four- and
  two-chamber) ``V = π/4 · Σ a_k b_k · L/n`` with ``L`` the longer of the two long axes and each
  view's diameters taken at the same fractions of its own axis (Lang et al. 2015).
- **Area-length**: single plane ``V = 8·A²/(3·π·L)``; biplane ``V = 8·A₁·A₂/(3·π·L)`` with ``L``
  the shorter of the two long axes (the guideline's rule for the left atrium).

Units follow the spacing: with ``spacing = (sx_cm, sy_cm)`` lengths are cm, areas cm², volumes
cm³ (= mL); with ``spacing = None`` they are pixels, px² and px³.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

N_DISCS = 20
BASE_MIN_FRACTION = 0.35  # an annulus spans at least this fraction of the Feret diameter
BASE_MIN_ANGLE_DEG = 60.0  # the long axis stands on the annulus at this angle or steeper
STRAIGHT_TOL_PX = 1.0  # a straight cut's staircase stays this close (pixels) to its chord
CUT_BAND_PX = 1.5  # outline points this close (pixels) to the cut's chord belong to the cut
APEX_BAND = 0.10  # the apical cap: outline points within 10 % of the greatest distance


class ChamberAbsent(ValueError):
    """The mask holds no chamber (no pixel set, or too few for an outline)."""


class LongAxis(NamedTuple):
    """A chamber's long axis, in the contour's units."""

    base_mid: np.ndarray  # [2] annulus midpoint (or one end of the Feret diameter)
    apex: np.ndarray  # [2] where the outline is farthest from base_mid
    hinges: np.ndarray | None  # [2, 2] the annulus' two ends, None without a straight cut
    length: float  # |apex - base_mid|

    @property
    def has_base(self) -> bool:
        return self.hinges is not None

    @property
    def direction(self) -> np.ndarray:
        return (self.apex - self.base_mid) / self.length


class Shape(NamedTuple):
    """What :func:`measure` finds in one mask."""

    contour: np.ndarray  # [N, 2] closed outline (x, y), counter-clockwise, last point != first
    area: float
    axis: LongAxis


def contour(mask: np.ndarray, spacing=None) -> np.ndarray:
    """The outline of a bool [H, W] mask as float [N, 2] (x, y) points in physical units.

    Raises :class:`ChamberAbsent` for a mask with no outline.
    """
    import contourpy

    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"a mask is one [H, W] image, got shape {mask.shape}")
    if not mask.any():
        raise ChamberAbsent("the mask is empty")
    # Padding closes outlines that touch the image border.
    z = np.pad(mask.astype(np.float64), 1)
    lines = contourpy.contour_generator(z=z, line_type="Separate").lines(0.5)
    closed = [ln[:-1] for ln in lines if len(ln) >= 4 and np.allclose(ln[0], ln[-1])]
    if not closed:
        raise ChamberAbsent("the mask has no closed outline")
    best = max(closed, key=lambda p: abs(polygon_area(p)))
    sx, sy = (1.0, 1.0) if spacing is None else (float(spacing[0]), float(spacing[1]))
    pts = (best - 1.0) * np.array([sx, sy])
    return pts if _signed_area(pts) > 0 else pts[::-1].copy()


def _signed_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def polygon_area(poly: np.ndarray) -> float:
    """Area enclosed by a closed polygon [N, 2] (shoelace formula)."""
    return abs(_signed_area(np.asarray(poly, np.float64)))


def polygon_length(poly: np.ndarray, closed: bool = True) -> float:
    """Length of a polyline [N, 2]; ``closed`` adds the edge from the last point to the first."""
    poly = np.asarray(poly, np.float64)
    pts = np.vstack([poly, poly[:1]]) if closed else poly
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Indices of the convex hull's vertices in ``points`` [N, 2], counter-clockwise
    (Andrew's monotone chain)."""
    order = np.lexsort((points[:, 1], points[:, 0]))

    def half(idx):
        chain: list[int] = []
        for i in idx:
            while len(chain) >= 2:
                o, a = points[chain[-2]], points[chain[-1]]
                b = points[i]
                if (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]) > 0:
                    break
                chain.pop()
            chain.append(int(i))
        return chain

    lower, upper = half(order), half(order[::-1])
    return np.array(lower[:-1] + upper[:-1])


def straight_runs(hull_pts: np.ndarray, tol: float) -> list[tuple[float, int, int]]:
    """Straight stretches of a convex polygon [H, 2]: for each start vertex, the longest run of
    following vertices that all lie within ``tol`` of the chord from its first to its last one
    (a straight cut through the pixel grid is a staircase, whose hull is several short,
    almost collinear edges). Returns (chord length, first, last) sorted longest first."""
    n = len(hull_pts)
    runs = []
    for i in range(n):
        best = (i + 1) % n
        for step in range(2, n):
            j = (i + step) % n
            a, b = hull_pts[i], hull_pts[j]
            mid = hull_pts[[(i + k) % n for k in range(1, step)]]
            d = b - a
            dev = np.abs(d[0] * (mid[:, 1] - a[1]) - d[1] * (mid[:, 0] - a[0])) / np.linalg.norm(d)
            if dev.max() > tol:
                break
            best = j
        runs.append((float(np.linalg.norm(hull_pts[best] - hull_pts[i])), i, best))
    return sorted(runs, reverse=True)


def _cut(poly: np.ndarray, ends: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray]:
    """The outline's straight cut near the hull chord ``ends`` [2, 2]: its two hinge points (the
    outline points within ``band`` of the chord that lie farthest along it, each side) and its
    middle (halfway between them along the chord, moved by the points' mean offset from it:
    the hull touches the staircase's outer corners, the outline runs on average inside them)."""
    d = ends[1] - ends[0]
    length = np.linalg.norm(d)
    along = (poly - ends[0]) @ d / length
    normal = np.array([-d[1], d[0]]) / length
    off = (poly - ends[0]) @ normal
    near = np.flatnonzero((along > -band) & (along < length + band) & (np.abs(off) <= band))
    if len(near) < 2:
        return ends, ends.mean(axis=0)
    first, last = near[np.argmin(along[near])], near[np.argmax(along[near])]
    middle = 0.5 * (along[first] + along[last])
    return poly[[first, last]], ends[0] + middle * d / length + float(off[near].mean()) * normal


def long_axis(poly: np.ndarray, pixel: float = 1.0) -> LongAxis:
    """The long axis of a closed outline (``pixel``: the largest pixel side, in the outline's
    units). The annulus is the longest straight stretch of the outline's convex hull (within
    :data:`STRAIGHT_TOL_PX` pixels of a chord) that is at least ``BASE_MIN_FRACTION`` of the
    Feret diameter and on which the long axis stands at :data:`BASE_MIN_ANGLE_DEG` or more; the
    apex is the outline point farthest from its midpoint. Without such a stretch the long axis is
    the Feret diameter. See the module docstring."""
    poly = np.asarray(poly, np.float64)
    hp = poly[convex_hull(poly)]
    pair = np.linalg.norm(hp[:, None] - hp[None], axis=2)
    i, j = np.unravel_index(np.argmax(pair), pair.shape)
    feret = float(pair[i, j])
    min_sin = np.sin(np.deg2rad(BASE_MIN_ANGLE_DEG))
    for length, a, b in straight_runs(hp, STRAIGHT_TOL_PX * pixel):
        if length < BASE_MIN_FRACTION * feret:
            break
        hinges, base_mid = _cut(poly, np.stack([hp[a], hp[b]]), CUT_BAND_PX * pixel)
        apex = _apex(poly, base_mid)
        chord = (hinges[1] - hinges[0]) / np.linalg.norm(hinges[1] - hinges[0])
        axis = (apex - base_mid) / np.linalg.norm(apex - base_mid)
        if abs(chord[0] * axis[1] - chord[1] * axis[0]) >= min_sin:
            return LongAxis(base_mid, apex, hinges, float(np.linalg.norm(apex - base_mid)))
    apex = _apex(poly, hp[i])
    return LongAxis(hp[i], apex, None, float(np.linalg.norm(apex - hp[i])))


def _apex(poly: np.ndarray, base_mid: np.ndarray) -> np.ndarray:
    """Where the outline is farthest from ``base_mid``. Across a rounded cap the distance hardly
    changes and the single farthest pixel corner would tilt the axis by the grid's noise, so
    the distance over the cap (the points within :data:`APEX_BAND` of the greatest distance) is
    fitted by a parabola in the angle seen from ``base_mid``, and the apex is the outline's
    crossing in the direction of the parabola's peak."""
    rel = poly - base_mid
    dist = np.linalg.norm(rel, axis=1)
    far = rel[int(np.argmax(dist))] / dist.max()
    ang = np.arctan2(rel[:, 0] * far[1] - rel[:, 1] * far[0], rel @ far)  # from the farthest point
    near = (dist >= (1.0 - APEX_BAND) * dist.max()) & (np.abs(ang) < np.pi / 2)
    peak = 0.0
    if near.sum() >= 5:
        c2, c1, _ = np.polyfit(ang[near], dist[near], 2)
        if c2 < 0:
            peak = float(np.clip(-c1 / (2 * c2), ang[near].min(), ang[near].max()))
    cos, sin = np.cos(peak), np.sin(peak)
    u = np.array([far[0] * cos + far[1] * sin, -far[0] * sin + far[1] * cos])
    s, t = rel @ u, rel @ np.array([-u[1], u[0]])
    s2, t2 = np.roll(s, -1), np.roll(t, -1)
    cross = (t > 0) != (t2 > 0)
    reach = s[cross] + (s2[cross] - s[cross]) * t[cross] / (t[cross] - t2[cross])
    return base_mid + float(reach.max()) * u


def measure(mask: np.ndarray, spacing=None) -> Shape:
    """Outline, area and long axis of a bool [H, W] mask (units from ``spacing``).

    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:120, 0:120]
    >>> half = ((yy - 100.3) / 80) ** 2 + ((xx - 60.2) / 30) ** 2 <= 1  # apex up, flat base
    >>> half &= yy <= 100.3
    >>> s = measure(half, (0.03, 0.03))           # 0.03 cm pixels
    >>> round(s.axis.length, 2), s.axis.has_base  # 80 px = 2.4 cm
    (2.4, True)
    >>> round(volume_discs(s) / (2 / 3 * np.pi * 2.4 * 0.9 ** 2), 2)  # half spheroid, in mL
    1.0
    """
    poly = contour(mask, spacing)
    pixel = 1.0 if spacing is None else max(float(spacing[0]), float(spacing[1]))
    return Shape(poly, polygon_area(poly), long_axis(poly, pixel))


def disc_diameters(poly: np.ndarray, axis: LongAxis, n_discs: int = N_DISCS) -> np.ndarray:
    """float [n_discs]: the outline's chord length perpendicular to ``axis`` at the levels
    ``(k + ½)·L/n`` from the annulus (the sum of the inside stretches where the line crosses
    the outline more than twice)."""
    poly = np.asarray(poly, np.float64)
    u = axis.direction
    v = np.array([-u[1], u[0]])
    s = (poly - axis.base_mid) @ u
    t = (poly - axis.base_mid) @ v
    s2, t2 = np.roll(s, -1), np.roll(t, -1)
    levels = (np.arange(n_discs) + 0.5) * axis.length / n_discs
    out = np.zeros(n_discs)
    for k, lv in enumerate(levels):
        cross = (s > lv) != (s2 > lv)  # half-open: a vertex on the line counts once
        f = (lv - s[cross]) / (s2[cross] - s[cross])
        tc = np.sort(t[cross] + f * (t2[cross] - t[cross]))
        out[k] = float(np.sum(tc[1::2] - tc[0::2]))
    return out


def volume_discs(shape: Shape, n_discs: int = N_DISCS) -> float:
    """Single-plane method of discs ``π/4 · Σ d_k² · L/n``."""
    d = disc_diameters(shape.contour, shape.axis, n_discs)
    return float(np.pi / 4.0 * np.sum(d * d) * shape.axis.length / n_discs)


def volume_biplane_discs(a4c: Shape, a2c: Shape, n_discs: int = N_DISCS) -> float:
    """Biplane method of discs ``π/4 · Σ a_k b_k · L/n``, ``L`` the longer long axis."""
    a = disc_diameters(a4c.contour, a4c.axis, n_discs)
    b = disc_diameters(a2c.contour, a2c.axis, n_discs)
    length = max(a4c.axis.length, a2c.axis.length)
    return float(np.pi / 4.0 * np.sum(a * b) * length / n_discs)


def volume_area_length(area: float, length: float) -> float:
    """Single-plane area-length ``8·A²/(3·π·L)`` (exact for an ellipsoid of revolution)."""
    return 8.0 * area * area / (3.0 * np.pi * length)


def volume_biplane_area_length(area_a4c: float, area_a2c: float, length: float) -> float:
    """Biplane area-length ``8·A₁·A₂/(3·π·L)`` (``L``: the shorter long axis for the LA)."""
    return 8.0 * area_a4c * area_a2c / (3.0 * np.pi * length)


def endocardial_length(shape: Shape) -> float:
    """Length of the outline from one hinge to the other through the apex (the annulus chord
    left out), the quantity whose ED→ES change is the contour-based longitudinal strain; the
    whole perimeter for an outline without an annulus."""
    poly, axis = shape.contour, shape.axis
    if not axis.has_base:
        return polygon_length(poly)
    i, j = (int(np.argmin(np.linalg.norm(poly - h, axis=1))) for h in axis.hinges)
    i, j = min(i, j), max(i, j)
    apex = int(np.argmin(np.linalg.norm(poly - axis.apex, axis=1)))
    inner = poly[i : j + 1]
    outer = np.vstack([poly[j:], poly[: i + 1]])
    arc = inner if i <= apex <= j else outer
    return polygon_length(arc, closed=False)


def strain(length_ed: float, length_es: float) -> float:
    """Lagrangian strain in percent, ``100·(L_ES − L_ED)/L_ED`` (negative = shortening)."""
    return 100.0 * (length_es - length_ed) / length_ed


def fractional_area_change(area_ed: float, area_es: float) -> float:
    """``100·(EDA − ESA)/EDA`` in percent."""
    return 100.0 * (area_ed - area_es) / area_ed


def ejection_fraction(edv: float, esv: float) -> float:
    """``100·(EDV − ESV)/EDV`` in percent."""
    if not edv > 0:
        raise ValueError(f"end-diastolic volume must be positive, got {edv}")
    return 100.0 * (edv - esv) / edv
