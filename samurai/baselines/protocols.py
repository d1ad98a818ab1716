"""The two prompt protocols under which per-frame image segmenters are scored.

``oracle-box``: every labelled frame from the first one is prompted with the box of each
structure's truth mask on that frame (MedSAM's paper protocol). An upper bound: no user and no
tracker has the truth box of every frame. Frames without labels get no mask.

``first-box``: the truth box on the first labelled frame only; every later frame is prompted
with the box of the method's own mask on the previous frame (what a user without labels gets
from an image model, and the fair comparison with a tracker prompted once). When the previous
mask is empty, the last non-empty box is used again, so that a structure that vanishes for a
frame can be found again where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

PROTOCOLS = ("oracle-box", "first-box")


class FrameSegmenter(Protocol):
    """Segments structures on single frames from box prompts, frames encoded in batches."""

    name: str

    def encode(self, frames: Sequence[np.ndarray]) -> None:
        """Run the image encoder on a batch of RGB ``uint8 [H, W, 3]`` frames."""
        ...

    def segment(self, index: int, boxes: np.ndarray) -> np.ndarray:
        """bool ``[K, H, W]`` masks on frame ``index`` of the encoded batch, one per box of
        ``boxes`` (``float32 [K, 4]``, ``samurai_core.mask_to_box``'s inclusive pixel corners)."""
        ...


def segment_case(
    segmenter: FrameSegmenter,
    frames: np.ndarray,
    truth: np.ndarray,
    labelled: np.ndarray,
    ids: Sequence[int],
    start: int,
    protocol: str,
    batch_size: int = 8,
    on_frames: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Masks bool ``[T, K, H, W]`` of structures ``ids`` under ``protocol``.

    Args:
      frames: grey ``uint8 [T, H, W]`` or RGB ``[T, H, W, 3]``.
      truth: label map ``[T, H, W]`` (structure ``k`` where ``truth == k``).
      labelled: bool ``[T]``, frames whose ``truth`` is known.
      start: the first labelled frame (the prompt frame of ``first-box``).
      batch_size: frames per image-encoder call.
      on_frames: called with the number of frames just segmented (a progress bar).
    """
    from samurai_core.boxes import mask_to_box

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    t_all, h, w = truth.shape
    rgb = frames if frames.ndim == 4 else np.repeat(frames[..., None], 3, axis=3)
    masks = np.zeros((t_all, len(ids), h, w), bool)
    ids_axis = np.asarray(ids)[:, None, None]
    if protocol == "oracle-box":
        order = [int(t) for t in np.flatnonzero(labelled) if t >= start]
    else:
        order = list(range(start, t_all))
    last = mask_to_box(truth[start] == ids_axis)
    for b in range(0, len(order), batch_size):
        chunk = order[b : b + batch_size]
        segmenter.encode([rgb[t] for t in chunk])
        for i, t in enumerate(chunk):
            if protocol == "oracle-box":
                structures = truth[t] == ids_axis
                boxes, present = mask_to_box(structures), np.flatnonzero(structures.any(axis=(1, 2)))
            else:
                boxes, present = last, np.arange(len(ids))
            if present.size:
                masks[t, present] = segmenter.segment(i, boxes[present])
            if protocol == "first-box":
                keep = masks[t].any(axis=(1, 2))
                last = np.where(keep[:, None], mask_to_box(masks[t]), last)
        if on_frames is not None:
            on_frames(len(chunk))
    return masks
