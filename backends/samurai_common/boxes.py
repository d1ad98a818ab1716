"""Candidate boxes from candidate masks, in the convention of ``samurai_core.mask_to_box``.

Inclusive pixel-index corners ``[x_min, y_min, x_max, y_max]`` of the foreground (logit > 0),
zeros for an empty mask (see ``docs/core.md``, "Boxes"). ``boxes_from_masks`` works in torch on
the masks' device (no host sync). The predictor's hot path splits the same work:
``mask_extrema`` (the two big reductions, on the device), one host copy of the small extrema,
then the core's ``boxes_from_extrema`` in NumPy (a dozen tiny ops that cost far less in NumPy
than as torch kernel launches).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from samurai_core.boxes import boxes_from_extrema


def boxes_from_masks(mask_logits: torch.Tensor) -> torch.Tensor:
    """``samurai_core.mask_to_box`` of mask logits, in torch on their device.

    Vectorised over any leading axes: the row-wise and column-wise maxima of the logits (two
    float reductions, faster than reducing a boolean mask in torch), then the first and last
    positive index of each (no ``argwhere``, no per-mask host round trip).

    Args:
      mask_logits: ``[..., H, W]`` mask logits.

    Returns:
      ``[..., 4]`` float32 boxes ``[x_min, y_min, x_max, y_max]``, inclusive; zeros if empty.
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
    concatenated on dim 0 (the input of ``samurai_core.boxes.boxes_from_extrema``)."""
    return torch.cat([torch.cat((m.amax(dim=-1), m.amax(dim=-2)), dim=-1) for m in mask_logits])


__all__ = ["boxes_from_extrema", "boxes_from_masks", "mask_extrema"]
