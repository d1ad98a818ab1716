"""Candidate boxes from candidate masks, in the convention of ``samurai_core.mask_to_box``.

Inclusive pixel-index corners ``[x_min, y_min, x_max, y_max]`` of the foreground (logit > 0),
zeros for an empty mask (see ``docs/core.md``, "Boxes"). ``boxes_from_masks`` works in torch on
the masks' device (no host sync). The backends' hot path, ``candidates_to_host``, splits the
same work: ``mask_extrema`` (the two big reductions, on the device), one host copy of the small
extrema, then the core's ``boxes_from_extrema`` in NumPy (a dozen tiny ops that cost far less in
NumPy than as torch kernel launches).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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


def candidates_to_host(
    high_res: Sequence[torch.Tensor], ious: Sequence[torch.Tensor], object_score_logits: Sequence[torch.Tensor]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The core's inputs for N objects' candidates, with ONE device-to-host copy.

    The masks' row/column maxima (the big reductions, on the device), the predicted IoUs and
    object scores of all objects are packed into one small tensor and copied to the host; the
    boxes are then ``boxes_from_extrema`` in NumPy.

    Args:
      high_res: N ``[..., M, S, S]`` candidate mask logits, one object each (leading axes of
        size 1); ious: N ``[..., M]``; object_score_logits: N one-element tensors.

    Returns:
      ``boxes [N, M, 4]`` (xyxy, model-input pixels), ``aff [N, M]``, ``obj [N]`` (float32).
    """
    N, M = len(high_res), ious[0].shape[-1]
    S = high_res[0].shape[-2]
    E = S + high_res[0].shape[-1]
    packed = torch.cat(
        (
            mask_extrema(high_res).float().reshape(N, M * E),
            torch.cat(list(ious)).float().reshape(N, M),
            torch.cat(list(object_score_logits)).float().reshape(N, 1),
        ),
        dim=1,
    )
    host = packed.cpu().numpy()
    boxes = boxes_from_extrema(host[:, : M * E].reshape(N, M, E), S)
    return boxes, host[:, M * E : M * E + M], host[:, -1]


__all__ = ["boxes_from_extrema", "boxes_from_masks", "candidates_to_host", "mask_extrema"]
