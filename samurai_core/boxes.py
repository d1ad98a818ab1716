"""Boxes: from masks, to and from LaSOT files, conversions and IoU on ``[..., 4]`` arrays.

**The box of a mask** (one convention for the whole project): inclusive pixel-index corners
``[x_min, y_min, x_max, y_max]``, the column and row of the first and last foreground pixel,
so a one-pixel mask at ``(x, y)`` gives ``[x, y, x, y]``; all zeros for an empty mask. It is
SAM 2's own (``sam2.utils.misc.mask_to_box``) and the official SAMURAI code's, so prompts match
how SAM 2 was trained. ``mask_to_box`` defines it (NumPy, host side); the torch backends'
``samurai_common.boxes`` computes the same boxes on the device. LaSOT / GOT-10k files hold
``x, y, w, h`` with ``w, h`` pixel counts (``w = x_max - x_min + 1``): ``xyxy_to_lasot`` and
``lasot_to_xyxy`` convert.

Geometry formats (JAX): ``xyxy`` (corners), ``xywh`` (top-left corner, width, height),
``cxcywh`` (centre, width, height) and ``xyah`` (centre, aspect ratio ``w/h``, height: the
measurement of the official SAMURAI Kalman filter). Here widths are ``x2 - x1``, as in the
official Kalman filter and IoU. Every function works on any leading batch shape.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Bool, Float

from samurai_core.types import AnyArray, Array


def mask_to_box(mask) -> np.ndarray:
    """The box of each mask: ``[..., H, W] -> [..., 4]`` float32 ``[x_min, y_min, x_max, y_max]``.

    Inclusive pixel indices of the first and last foreground row and column (a one-pixel mask
    at ``(x, y)`` gives ``[x, y, x, y]``); all zeros for an empty mask. Foreground: ``True``
    for bool masks, ``> 0`` otherwise (label-free masks or logits). Batched over leading axes.

    >>> m = np.zeros((4, 6), bool); m[1:3, 2:5] = True
    >>> mask_to_box(m).tolist()
    [2.0, 1.0, 4.0, 2.0]
    """
    mask = np.asarray(mask)
    if mask.ndim < 2:
        raise ValueError(f"mask_to_box needs masks of shape [..., H, W]; got shape {mask.shape}")
    fg = mask if mask.dtype == np.bool_ else mask > 0
    return _profiles_to_box(fg.any(axis=-1), fg.any(axis=-2))


def boxes_from_extrema(extrema, height: int) -> np.ndarray:
    """``mask_to_box`` of masks given by their row then column maxima (``[..., H + W]``).

    The device-side half of a backend reduces its mask logits to these maxima (two reductions,
    one small host copy, e.g. ``samurai_common.boxes.candidates_to_host``); this finishes on the host.
    ``height`` is ``H``. Returns float32 ``[..., 4]``, zeros for empty masks.
    """
    pos = np.asarray(extrema) > 0
    return _profiles_to_box(pos[..., :height], pos[..., height:])


def _profiles_to_box(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Boxes from bool ``rows [..., H]`` / ``cols [..., W]`` (does the row / column hold
    foreground): the first and last set index of each; zeros where no row is set."""
    H, W = rows.shape[-1], cols.shape[-1]
    # argmax gives the first True; on the reversed axis, the last. Written into one float32
    # array (the indices are exact in float32): backends call this on every frame.
    box = np.empty(rows.shape[:-1] + (4,), np.float32)
    box[..., 0] = cols.argmax(axis=-1)
    box[..., 1] = rows.argmax(axis=-1)
    box[..., 2] = (W - 1) - cols[..., ::-1].argmax(axis=-1)
    box[..., 3] = (H - 1) - rows[..., ::-1].argmax(axis=-1)
    box[~rows.any(axis=-1)] = 0.0
    return box


def lasot_present(xywh) -> np.ndarray:
    """True where a LaSOT ``x, y, w, h`` row holds a box: finite, ``w > 0`` and ``h > 0``."""
    b = np.asarray(xywh, np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.isfinite(b).all(axis=-1) & (b[..., 2] > 0) & (b[..., 3] > 0))


def xyxy_to_lasot(boxes) -> np.ndarray:
    """``[..., 4]`` mask boxes (``mask_to_box``) -> float64 LaSOT ``x, y, w, h`` rows.

    ``w = x_max - x_min + 1``, ``h = y_max - y_min + 1`` (pixel counts). An absent box (all
    zeros, non-finite, or ``x_max < x_min`` / ``y_max < y_min``) gives ``0, 0, 0, 0``, the
    convention of LaSOT-style result files.
    """
    b = np.asarray(boxes, np.float64)
    w = b[..., 2] - b[..., 0] + 1.0
    h = b[..., 3] - b[..., 1] + 1.0
    xywh = np.stack([b[..., 0], b[..., 1], w, h], axis=-1)
    present = lasot_present(xywh) & (b != 0).any(axis=-1)
    return np.where(present[..., None], xywh, 0.0)


def lasot_to_xyxy(xywh) -> np.ndarray:
    """LaSOT ``x, y, w, h`` rows -> float64 ``[..., 4]`` boxes in ``mask_to_box``'s convention.

    ``[x, y, x + w - 1, y + h - 1]``; all zeros where the row holds no box (``lasot_present``).
    """
    b = np.asarray(xywh, np.float64)
    xyxy = np.concatenate([b[..., :2], b[..., :2] + b[..., 2:] - 1.0], axis=-1)
    return np.where(lasot_present(b)[..., None], xyxy, 0.0)


def _split(b: Float[AnyArray, "*batch 4"]):
    b = jnp.asarray(b)
    return b[..., 0], b[..., 1], b[..., 2], b[..., 3]


def xyxy_to_xywh(b: Float[AnyArray, "*batch 4"]) -> Float[Array, "*batch 4"]:
    """``[x1, y1, x2, y2] -> [x1, y1, x2 - x1, y2 - y1]``."""
    x1, y1, x2, y2 = _split(b)
    return jnp.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)


def xywh_to_xyxy(b: Float[AnyArray, "*batch 4"]) -> Float[Array, "*batch 4"]:
    """``[x, y, w, h] -> [x, y, x + w, y + h]``."""
    x, y, w, h = _split(b)
    return jnp.stack([x, y, x + w, y + h], axis=-1)


def xyxy_to_cxcywh(b: Float[AnyArray, "*batch 4"]) -> Float[Array, "*batch 4"]:
    """``[x1, y1, x2, y2] -> [(x1 + x2)/2, (y1 + y2)/2, x2 - x1, y2 - y1]``."""
    x1, y1, x2, y2 = _split(b)
    return jnp.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)


def cxcywh_to_xyxy(b: Float[AnyArray, "*batch 4"]) -> Float[Array, "*batch 4"]:
    """``[cx, cy, w, h] -> [cx - w/2, cy - h/2, cx + w/2, cy + h/2]``."""
    cx, cy, w, h = _split(b)
    return jnp.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def xyxy_to_xyah(b: Float[AnyArray, "*batch 4"]) -> Float[Array, "*batch 4"]:
    """``[x1, y1, x2, y2] -> [cx, cy, w/h, h]`` (``inf``/``nan`` aspect for ``h == 0``)."""
    x1, y1, x2, y2 = _split(b)
    w, h = x2 - x1, y2 - y1
    return jnp.stack([(x1 + x2) / 2, (y1 + y2) / 2, w / h, h], axis=-1)


def xyah_to_xyxy(b: Float[AnyArray, "*batch 4"]) -> Float[Array, "*batch 4"]:
    """``[cx, cy, a, h] -> [cx - a·h/2, cy - h/2, cx + a·h/2, cy + h/2]``."""
    cx, cy, a, h = _split(b)
    w = a * h
    return jnp.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def box_valid(b: Float[AnyArray, "*batch 4"]) -> Bool[Array, "*batch"]:
    """True where a box is finite with positive width and height (``x2 > x1``, ``y2 > y1``)."""
    x1, y1, x2, y2 = _split(b)
    finite = jnp.all(jnp.isfinite(jnp.asarray(b)), axis=-1)
    # NaN compares False, so the order tests are also False for non-finite boxes.
    return finite & (x2 > x1) & (y2 > y1)


def box_iou(a: Float[AnyArray, "*#batch 4"], b: Float[AnyArray, "*#batch 4"]) -> Float[Array, "*#batch"]:
    """Elementwise IoU of ``xyxy`` boxes (broadcasting over equal-rank batch shapes).

    Returns 0 wherever either box is invalid (see ``box_valid``): never NaN.
    """
    a = jnp.asarray(a)
    b = jnp.asarray(b)
    ok = box_valid(a) & box_valid(b)
    # Zero the invalid boxes first so that no inf/NaN enters the arithmetic at all.
    a = jnp.where(ok[..., None], a, 0.0)
    b = jnp.where(ok[..., None], b, 0.0)
    ax1, ay1, ax2, ay2 = _split(a)
    bx1, by1, bx2, by2 = _split(b)
    iw = jnp.maximum(jnp.minimum(ax2, bx2) - jnp.maximum(ax1, bx1), 0.0)
    ih = jnp.maximum(jnp.minimum(ay2, by2) - jnp.maximum(ay1, by1), 0.0)
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    good = ok & (union > 0)
    return jnp.where(good, inter / jnp.where(good, union, 1.0), 0.0)


def pairwise_iou(a: Float[AnyArray, "N 4"], b: Float[AnyArray, "K 4"]) -> Float[Array, "N K"]:
    """IoU of every box of ``a`` with every box of ``b`` (0 for invalid boxes)."""
    a = jnp.asarray(a)
    b = jnp.asarray(b)
    return box_iou(a[:, None, :], b[None, :, :])


__all__ = [
    "box_iou",
    "boxes_from_extrema",
    "lasot_present",
    "lasot_to_xyxy",
    "mask_to_box",
    "xyxy_to_lasot",
    "box_valid",
    "cxcywh_to_xyxy",
    "pairwise_iou",
    "xyah_to_xyxy",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xyah",
    "xyxy_to_xywh",
]
