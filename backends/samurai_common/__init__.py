"""Helpers every torch backend needs: candidate boxes from mask logits, frame sources and the
device rule.

One copy, imported by ``samurai_sam2`` (Meta's ``sam2``) and by the other backends; it imports
NumPy and torch only, never a segmenter's package.
"""

from samurai_common.boxes import boxes_from_extrema, boxes_from_masks, mask_extrema
from samurai_common.devices import resolve_device
from samurai_common.frames import FrameError, FrameSource, VideoEndedEarly, open_frames

__all__ = [
    "FrameError",
    "FrameSource",
    "VideoEndedEarly",
    "boxes_from_extrema",
    "boxes_from_masks",
    "mask_extrema",
    "open_frames",
    "resolve_device",
]
