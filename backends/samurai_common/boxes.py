"""Candidate boxes from candidate masks.

``boxes_from_masks`` works in torch on the masks' device (no host sync). The predictor's hot
path splits the same work: ``mask_extrema`` (the two big reductions, on the device), one host
copy of the small extrema, then ``boxes_from_extrema`` in NumPy (a dozen tiny ops that cost
far less in NumPy than as torch kernel launches).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def boxes_from_masks(mask_logits: torch.Tensor) -> torch.Tensor:
    """Tight ``xyxy`` boxes of the foreground (logit > 0) of each mask; zeros for empty masks.

    Vectorised over any leading axes: the row-wise and column-wise maxima of the logits (two
    float reductions, faster than reducing a boolean mask in torch), then the first and last
    positive index of each (no ``argwhere``, no per-mask host round trip). Coordinates are pixel
    indices with inclusive maxima (a one-pixel mask at (x, y) gives ``[x, y, x, y]``), as in
    the official SAMURAI code.

    Args:
      mask_logits: ``[..., H, W]`` mask logits.

    Returns:
      ``[..., 4]`` float32 boxes ``[x_min, y_min, x_max, y_max]``.
    """
    H, W = mask_logits.shape[-2:]
    rows = mask_logits.amax(dim=-1) > 0  # [..., H]
    cols = mask_logits.amax(dim=-2) > 0  # [..., W]
    y0 = rows.to(torch.uint8).argmax(dim=-1)
    y1 = (H - 1) - rows.flip(-1).to(torch.uint8).argmax(dim=-1)
    x0 = cols.to(torch.uint8).argmax(dim=-1)
    x1 = (W - 1) - cols.flip(-1).to(torch.uint8).argmax(dim=-1)
    boxes = torch.stack((x0, y0, x1, y1), dim=-1).to(torch.float32)
    return torch.where(rows.any(dim=-1, keepdim=True), boxes, 0.0)


def mask_extrema(mask_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Row-wise then column-wise maxima of same-shaped ``[..., H, W]`` logits, ``[..., H + W]``,
    concatenated on dim 0 (the input of ``boxes_from_extrema``)."""
    return torch.cat([torch.cat((m.amax(dim=-1), m.amax(dim=-2)), dim=-1) for m in mask_logits])


def boxes_from_extrema(extrema: np.ndarray, height: int) -> np.ndarray:
    """``boxes_from_masks`` from ``mask_extrema``'s output on the host (NumPy).

    Args:
      extrema: ``[..., H + W]`` row maxima (the first ``height``) then column maxima.
      height: ``H``.

    Returns:
      ``[..., 4]`` float32 boxes ``[x_min, y_min, x_max, y_max]``; zeros for empty masks.
    """
    pos = np.asarray(extrema) > 0
    rows, cols = pos[..., :height], pos[..., height:]
    H, W = rows.shape[-1], cols.shape[-1]
    # argmax returns the first maximal index: the first set row/column; reversed, the last.
    boxes = np.stack(
        (
            cols.argmax(axis=-1),
            rows.argmax(axis=-1),
            (W - 1) - cols[..., ::-1].argmax(axis=-1),
            (H - 1) - rows[..., ::-1].argmax(axis=-1),
        ),
        axis=-1,
    ).astype(np.float32)
    return np.where(rows.any(axis=-1, keepdims=True), boxes, np.float32(0.0))
