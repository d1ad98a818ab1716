"""``florence2``: a (LoRA fine-tuned) Florence-2 segments each structure by its name, per frame.

No box and no truth at all: ``<REFERRING_EXPRESSION_SEGMENTATION>`` with the structure's phrase
on every labelled frame from the first one; the answer's polygons are filled into the mask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def segment_case_by_words(
    finder,
    frames: np.ndarray,
    labelled: np.ndarray,
    names: Sequence[str],
    start: int,
    batch_size: int = 8,
    on_frames: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Masks bool ``[T, K, H, W]`` of the structures called ``names`` (class names, e.g. "LV")
    on the labelled frames from ``start``; ``batch_size`` frames per ``generate`` call."""
    from samurai.florence import phrase_for

    t_all, h, w = frames.shape[:3]
    rgb = frames if frames.ndim == 4 else np.repeat(frames[..., None], 3, axis=3)
    masks = np.zeros((t_all, len(names), h, w), bool)
    order = [int(t) for t in np.flatnonzero(labelled) if t >= start]
    phrases = [phrase_for(n) for n in names]
    for b in range(0, len(order), batch_size):
        chunk = order[b : b + batch_size]
        found = finder.masks([rgb[t] for t in chunk for _ in names], phrases * len(chunk))
        for i, t in enumerate(chunk):
            masks[t] = np.stack(found[i * len(names) : (i + 1) * len(names)])
        if on_frames is not None:
            on_frames(len(chunk))
    return masks
