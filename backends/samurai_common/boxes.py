"""Candidate boxes from candidate masks, in the convention of ``samurai_core.mask_to_box``.

Inclusive pixel-index corners ``[x_min, y_min, x_max, y_max]`` of the foreground (logit > 0),
zeros for an empty mask (see ``docs/core.md``, "Boxes"). ``boxes_from_masks`` works in torch on
the masks' device (no host sync). The backends' hot path, ``candidates_to_host``, splits the
same work: the row and column maxima of the logits (the two big reductions, on the device), one
host copy of the small maxima, then the core's ``boxes_from_extrema`` in NumPy (a dozen tiny ops
that cost far less in NumPy than as torch kernel launches).
"""

from __future__ import annotations

import functools
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


def candidates_to_host(
    high_res: Sequence[torch.Tensor],
    ious: Sequence[torch.Tensor],
    object_score_logits: Sequence[torch.Tensor],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The core's inputs for N objects' candidates, with ONE device-to-host copy.

    Each object's masks are reduced to their row and column maxima (two reductions on the
    device: the only work that reads the masks); those, the predicted IoUs and the object
    scores of all objects are flattened into ONE ``torch.cat`` (float32) and copied to the host;
    the boxes are then the core's ``boxes_from_extrema`` in NumPy. Few tensor ops, as each
    costs a kernel launch (on a CPU, several microseconds of dispatch).

    Args:
      high_res: N ``[..., M, H, W]`` candidate mask logits, one object each (leading axes of
        size 1); ious: N ``[..., M]``; object_score_logits: N one-element tensors.

    Returns:
      ``boxes [N, M, 4]`` (xyxy, model-input pixels), ``aff [N, M]``, ``obj [N]`` (float32).
    """
    N, M = len(high_res), ious[0].shape[-1]
    H, W = high_res[0].shape[-2:]
    parts = []
    for m in high_res:  # one object's two reductions back to back: the second reads from cache
        parts += (m.amax(dim=-1).reshape(-1), m.amax(dim=-2).reshape(-1))
    parts += [x.reshape(-1) for x in ious]
    parts += [x.reshape(-1) for x in object_score_logits]
    host = torch.cat(parts).float().cpu().numpy()  # cat promotes mixed dtypes (exactly) first
    end = N * M * (H + W)
    per_object = host[:end].reshape(N, M * (H + W))  # row k: object k's row maxima, then column
    extrema = np.concatenate(
        (per_object[:, : M * H].reshape(N, M, H), per_object[:, M * H :].reshape(N, M, W)), axis=-1
    )
    boxes = boxes_from_extrema(extrema, H)
    return boxes, host[end : end + N * M].reshape(N, M), host[end + N * M :]


def index_tensors(chosen: np.ndarray, device: torch.device, shape: tuple[int, ...]) -> list[torch.Tensor]:
    """``chosen[k]`` as an int64 tensor of ``shape`` on ``device``, for every ``k``.

    The tensors are made once per (device, shape, value) and shared: a frame's choice then costs
    no tensor op and no host-to-device copy (on a CPU, a few tensor ops after the core step cost
    ~15 µs). They serve as indices and are never written.
    """
    return [_index_tensor(device, shape, value) for value in chosen.tolist()]


@functools.lru_cache(maxsize=256)
def _index_tensor(device: torch.device, shape: tuple[int, ...], value: int) -> torch.Tensor:
    # A normal tensor even when first asked for under inference_mode: an inference tensor
    # could not index a graph that autograd records later.
    with torch.inference_mode(False):
        return torch.full(shape, value, dtype=torch.int64, device=device)


__all__ = ["boxes_from_extrema", "boxes_from_masks", "candidates_to_host", "index_tensors"]
