"""Helpers every torch backend needs: candidate boxes from mask logits, frame sources, the
device rule, the per-video core bookkeeping (``samurai_common.tracks``) and the rule that a
SAMURAI config's memory sizes are the model's (``samurai_common.config``).

One copy, imported by ``samurai_sam2`` (Meta's ``sam2``) and by the other backends; it imports
NumPy and torch only, never a segmenter's package.
"""

from samurai_common.boxes import boxes_from_extrema, boxes_from_masks, candidates_to_host
from samurai_common.devices import resolve_device
from samurai_common.frames import FrameError, FrameSource, VideoEndedEarly, open_frames

__all__ = [
    "FrameError",
    "FrameSource",
    "VideoEndedEarly",
    "boxes_from_extrema",
    "boxes_from_masks",
    "candidates_to_host",
    "open_frames",
    "resolve_device",
]
