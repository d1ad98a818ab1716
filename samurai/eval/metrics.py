"""Segmentation and box-tracking metrics.

Segmentation (per structure, per frame): Dice, IoU and HD95 (the 95th percentile of the
symmetric surface distances, in mm when the pixel spacing is known).

Box tracking (per sequence, LaSOT / OTB definitions; boxes ``x, y, w, h`` with the top-left
corner in pixels, as in LaSOT's ``groundtruth.txt``). Frames whose ground truth is absent
(non-finite, or zero width or height) are left out:

- success curve: fraction of frames with IoU(pred, gt) > t for t = 0, 0.05, ..., 1 (21
  thresholds); **success AUC** is its mean (OTB and LaSOT report it as AUC).
- **precision @ 20 px**: fraction of frames whose centre error is <= 20 px.
- **normalised precision**: centre error with each axis divided by the ground-truth box's
  width / height, ``||((cx_p - cx_g) / w_g, (cy_p - cy_g) / h_g)||``; ``norm_precision`` is
  the fraction of frames where it is <= 0.2 (the value the LaSOT tables of pytracking-based
  papers print), ``norm_precision_auc`` the mean over the thresholds 0, 0.01, ..., 0.5
  (the LaSOT paper's area under the curve).

A predicted box that is absent (empty mask) counts as IoU 0 and an infinite centre error.
"""

from __future__ import annotations

import numpy as np

from samurai_core.boxes import lasot_present, mask_to_box, xyxy_to_lasot

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
NORM_PRECISION_THRESHOLDS = np.linspace(0.0, 0.5, 51)


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground truth {gt.shape}")
    return pred, gt


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice coefficient 2|P∩G| / (|P|+|G|); 1.0 when both masks are empty."""
    pred, gt = _pair(pred, gt)
    total = np.count_nonzero(pred) + np.count_nonzero(gt)
    return 1.0 if total == 0 else 2.0 * np.count_nonzero(pred & gt) / total


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Jaccard index |P∩G| / |P∪G|; 1.0 when both masks are empty."""
    pred, gt = _pair(pred, gt)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def _surface(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    # Pixels of the mask with a 4-neighbour outside it (image border counts as outside).
    eroded = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(2, 1), border_value=0)
    return mask & ~eroded


def surface_distances(a: np.ndarray, b: np.ndarray, spacing: tuple[float, float] | None = None) -> np.ndarray:
    """Distances from every surface pixel of ``a`` to the nearest surface pixel of ``b``."""
    from scipy import ndimage

    a, b = _pair(a, b)
    sampling = (1.0, 1.0) if spacing is None else tuple(float(s) for s in spacing)
    dist_to_b = ndimage.distance_transform_edt(~_surface(b), sampling=sampling)
    return dist_to_b[_surface(a)]


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, float] | None = None) -> float:
    """95th percentile of the symmetric surface distances (pixels, or mm given ``spacing``).

    Both directions' distances are pooled before taking the percentile (the MedPy / MONAI
    "percentile of the union" convention). 0.0 when both masks are empty, NaN when exactly
    one is (the distance is undefined; report it as a miss).

    Args:
        pred, gt: bool [H, W] masks.
        spacing: (row, col) pixel size in mm, or None for pixels.
    """
    pred, gt = _pair(pred, gt)
    has_p, has_g = pred.any(), gt.any()
    if not has_p and not has_g:
        return 0.0
    if not (has_p and has_g):
        return float("nan")
    d = np.concatenate([surface_distances(pred, gt, spacing), surface_distances(gt, pred, spacing)])
    return float(np.percentile(d, 95))


def box_iou_xywh(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Row-wise IoU of ``[N, 4]`` x,y,w,h boxes; 0 where either box is absent."""
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    ok = lasot_present(pred) & lasot_present(gt)
    p = np.where(ok[:, None], pred, 0.0)
    g = np.where(ok[:, None], gt, 0.0)
    iw = np.clip(np.minimum(p[:, 0] + p[:, 2], g[:, 0] + g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
    ih = np.clip(np.minimum(p[:, 1] + p[:, 3], g[:, 1] + g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
    inter = iw * ih
    union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
    return np.where(ok, inter / np.where(union > 0, union, 1.0), 0.0)


def box_metrics(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> dict[str, float]:
    """Success AUC, precision @ 20 px and normalised precision of one sequence.

    Args:
        pred_xywh, gt_xywh: float [T, 4] boxes (x, y, w, h), one row per frame.

    Returns:
        ``{"success_auc", "precision_20", "norm_precision", "norm_precision_auc",
        "frames"}`` (fractions in [0, 1]; ``frames`` = frames with ground truth). The
        curve itself: ``success_curve(box_iou_xywh(pred, gt))``.
    """
    pred = np.asarray(pred_xywh, np.float64).reshape(-1, 4)
    gt = np.asarray(gt_xywh, np.float64).reshape(-1, 4)
    if pred.shape != gt.shape:
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    keep = lasot_present(gt)
    if not keep.any():
        raise ValueError("no frame has a ground-truth box (all absent): nothing to score")
    pred, gt = pred[keep], gt[keep]
    ious = box_iou_xywh(pred, gt)
    present = lasot_present(pred)
    centre_p = pred[:, :2] + pred[:, 2:] / 2
    centre_g = gt[:, :2] + gt[:, 2:] / 2
    err = np.where(present, np.linalg.norm(centre_p - centre_g, axis=1), np.inf)
    norm_err = np.where(present, np.linalg.norm((centre_p - centre_g) / gt[:, 2:], axis=1), np.inf)
    return {
        "success_auc": float(success_curve(ious).mean()),
        "precision_20": float(np.mean(err <= 20.0)),
        "norm_precision": float(np.mean(norm_err <= 0.2)),
        "norm_precision_auc": float(np.mean([(norm_err <= t).mean() for t in NORM_PRECISION_THRESHOLDS])),
        "frames": int(keep.sum()),
    }


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames with IoU strictly above each threshold."""
    ious = np.asarray(ious, np.float64)
    return (ious[None, :] > np.asarray(thresholds)[:, None]).mean(axis=1)


def masks_to_xywh(masks: np.ndarray) -> np.ndarray:
    """float [T, 4] LaSOT x,y,w,h boxes of bool [T, H, W] masks: ``samurai_core.mask_to_box``
    then ``xyxy_to_lasot`` (a one-pixel mask at (r, c) is (c, r, 1, 1)); zeros (absent) for
    empty masks."""
    return xyxy_to_lasot(mask_to_box(np.asarray(masks, bool)))


def area_curve(masks: np.ndarray, spacing: tuple[float, float] | None = None) -> np.ndarray:
    """float [T] pixel-count areas of bool [T, H, W] masks (mm² given ``spacing`` (row, col) mm
    per pixel, else px): the area curves eval plots for a tracker and the truth alike. The
    read-out's areas are those of the masks' outlines (``samurai.clinical.geometry``)."""
    sr, sc = (1.0, 1.0) if spacing is None else spacing
    return np.asarray(masks, bool).reshape(len(masks), -1).sum(axis=1) * float(sr) * float(sc)
