"""Box conversions and IoU on ``[..., 4]`` arrays.

Formats: ``xyxy`` (corners), ``xywh`` (top-left corner, width, height), ``cxcywh`` (centre,
width, height) and ``xyah`` (centre, aspect ratio ``w/h``, height: the measurement of the
official SAMURAI Kalman filter). Every function works on any leading batch shape.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Bool, Float

from samurai_core.types import AnyArray, Array


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


def box_iou(
    a: Float[AnyArray, "*#batch 4"], b: Float[AnyArray, "*#batch 4"]
) -> Float[Array, "*#batch"]:
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
    "box_valid",
    "cxcywh_to_xyxy",
    "pairwise_iou",
    "xyah_to_xyxy",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xyah",
    "xyxy_to_xywh",
]
