"""Clinical read-out of the left ventricle from segmentation masks.

- LV area curve over time (mm² when the pixel spacing is known, else pixels).
- End-diastole (ED) = the frame of largest area, end-systole (ES) = the frame of smallest area.
- Long axis ``L`` of a mask: its extent along its principal axis (the major axis of the
  second-moment ellipse), measured in mm.
- Single-plane **area-length** volume: ``V = 8 A² / (3 π L)`` (exact for a prolate ellipsoid
  whose long axis lies in the imaging plane).
- Biplane **method of disks** (modified Simpson, 20 disks) from an apical 2CH and 4CH mask:
  ``V = π/4 · Σ_i a_i b_i · L/20``, with ``a_i``, ``b_i`` the diameters of disk ``i`` in the two
  views (each view sliced into 20 equal slabs perpendicular to its own long axis; the diameter
  of a slab is its area divided by its height) and ``L`` the longer of the two long axes.
- Ejection fraction ``EF = 100 · (EDV − ESV) / EDV``.

Units: with ``spacing`` in mm per pixel, areas are mm², lengths mm and volumes mm³ (= µL;
divide by 1000 for mL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_DISKS = 20


def _coords_mm(mask: np.ndarray, spacing) -> np.ndarray:
    sr, sc = (1.0, 1.0) if spacing is None else (float(spacing[0]), float(spacing[1]))
    r, c = np.nonzero(mask)
    return np.stack([r * sr, c * sc], axis=1)


def area(mask: np.ndarray, spacing: tuple[float, float] | None = None) -> float:
    """Area of a bool [H, W] mask (mm² given ``spacing`` (row, col) mm/px, else px)."""
    sr, sc = (1.0, 1.0) if spacing is None else spacing
    return float(np.count_nonzero(mask)) * float(sr) * float(sc)


def area_curve(masks: np.ndarray, spacing: tuple[float, float] | None = None) -> np.ndarray:
    """float [T] areas of bool [T, H, W] masks."""
    sr, sc = (1.0, 1.0) if spacing is None else spacing
    return np.asarray(masks, bool).reshape(len(masks), -1).sum(axis=1) * float(sr) * float(sc)


def ed_es_frames(areas: np.ndarray) -> tuple[int, int]:
    """(ED, ES) frame indices: the largest and the smallest area (first occurrence)."""
    areas = np.asarray(areas, np.float64)
    if areas.size == 0 or not np.isfinite(areas).any():
        raise ValueError("no frame with a measurable area: cannot find ED and ES")
    return int(np.nanargmax(areas)), int(np.nanargmin(areas))


def _principal_axes(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centre = pts.mean(axis=0)
    cov = np.cov((pts - centre).T)
    evals, evecs = np.linalg.eigh(cov)
    return centre, evecs[:, 1], evecs[:, 0]  # long axis, short axis


def _long_axis_coords(mask: np.ndarray, spacing) -> tuple[np.ndarray, float]:
    """Pixel positions along the long axis (mm, centred) and one pixel's extent along it."""
    pts = _coords_mm(mask, spacing)
    if len(pts) < 3:
        raise ValueError("mask too small to measure a long axis (fewer than 3 pixels)")
    centre, axis, _ = _principal_axes(pts)
    return (pts - centre) @ axis, _pixel_extent(axis, spacing)


def long_axis_length(mask: np.ndarray, spacing: tuple[float, float] | None = None) -> float:
    """Extent of the mask along its principal (long) axis, plus one pixel of width."""
    u, pixel = _long_axis_coords(mask, spacing)
    return float(u.max() - u.min() + pixel)


def _pixel_extent(direction: np.ndarray, spacing) -> float:
    # A pixel's width along a direction: the centre-to-centre extent misses half a pixel each end.
    sr, sc = (1.0, 1.0) if spacing is None else spacing
    return float(abs(direction[0]) * sr + abs(direction[1]) * sc)


def volume_area_length(mask: np.ndarray, spacing: tuple[float, float] | None = None) -> float:
    """Single-plane area-length volume ``8 A² / (3 π L)`` (mm³ given ``spacing``)."""
    a = area(mask, spacing)
    length = long_axis_length(mask, spacing)
    return 8.0 * a * a / (3.0 * np.pi * length)


def disk_diameters(
    mask: np.ndarray, spacing: tuple[float, float] | None = None, n_disks: int = N_DISKS
) -> tuple[np.ndarray, float]:
    """Diameters of ``n_disks`` slabs perpendicular to the long axis, and the long axis ``L``.

    Each slab's diameter is its area divided by its height ``L / n_disks``, i.e. the mean
    width of the mask across the slab.
    """
    u, pixel = _long_axis_coords(mask, spacing)
    lo = u.min() - pixel / 2
    length = u.max() - u.min() + pixel
    edges = lo + length * np.arange(n_disks + 1) / n_disks
    # Spread each pixel over its extent along the axis and share it among the slabs it
    # overlaps: binning pixel centres would alias (slabs of 9 or 11 pixel rows).
    overlap = np.clip(
        np.minimum(edges[None, 1:], u[:, None] + pixel / 2)
        - np.maximum(edges[None, :-1], u[:, None] - pixel / 2),
        0.0,
        None,
    )
    areas = overlap.sum(axis=0) / pixel * area(np.ones((1, 1), bool), spacing)
    return areas / (length / n_disks), float(length)


def volume_biplane_disks(
    mask_2ch: np.ndarray,
    mask_4ch: np.ndarray,
    spacing_2ch: tuple[float, float] | None = None,
    spacing_4ch: tuple[float, float] | None = None,
    n_disks: int = N_DISKS,
) -> float:
    """Biplane method-of-disks volume ``π/4 · Σ a_i b_i · L / n`` (mm³ given spacings)."""
    a, l2 = disk_diameters(mask_2ch, spacing_2ch, n_disks)
    b, l4 = disk_diameters(mask_4ch, spacing_4ch, n_disks)
    length = max(l2, l4)
    return float(np.pi / 4.0 * np.sum(a * b) * length / n_disks)


def ejection_fraction(edv: float, esv: float) -> float:
    """EF in percent, ``100 (EDV − ESV) / EDV``."""
    if not edv > 0:
        raise ValueError(f"end-diastolic volume must be positive, got {edv}")
    return 100.0 * (edv - esv) / edv


@dataclass
class ViewReadout:
    """Per-view LV read-out."""

    areas: np.ndarray  # [T] area curve
    ed_index: int
    es_index: int
    edv: float  # area-length volumes
    esv: float
    ef: float  # area-length EF (%)


def view_readout(
    masks: np.ndarray,
    spacing: tuple[float, float] | None = None,
    ed_index: int | None = None,
    es_index: int | None = None,
) -> ViewReadout:
    """Area curve, ED/ES (largest/smallest area unless given) and area-length EF of one view.

    Args:
        masks: bool [T, H, W] LV masks.
        spacing: (row, col) mm per pixel, or None (pixels; EF is unitless either way).
        ed_index, es_index: force the ED / ES frames (e.g. the dataset's labelled ones).
    """
    masks = np.asarray(masks, bool)
    areas = area_curve(masks, spacing)
    ed, es = ed_es_frames(np.where(areas > 0, areas, np.nan))
    ed = ed if ed_index is None else int(ed_index)
    es = es if es_index is None else int(es_index)
    edv = volume_area_length(masks[ed], spacing)
    esv = volume_area_length(masks[es], spacing)
    return ViewReadout(areas, ed, es, edv, esv, ejection_fraction(edv, esv))


def biplane_ef(
    ed_2ch: np.ndarray,
    es_2ch: np.ndarray,
    ed_4ch: np.ndarray,
    es_4ch: np.ndarray,
    spacing_2ch: tuple[float, float] | None = None,
    spacing_4ch: tuple[float, float] | None = None,
) -> float:
    """Biplane method-of-disks EF from each view's ED and ES LV masks (bool [H, W])."""
    edv = volume_biplane_disks(ed_2ch, ed_4ch, spacing_2ch, spacing_4ch)
    esv = volume_biplane_disks(es_2ch, es_4ch, spacing_2ch, spacing_4ch)
    return ejection_fraction(edv, esv)
