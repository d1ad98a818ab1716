"""Helpers every torch backend needs: candidate boxes from mask logits, the candidates of a
tracking frame and their choice (``samurai_common.candidates``), frame sources, the device rule,
the per-video core bookkeeping (``samurai_common.tracks``) and the rule that a SAMURAI config's
memory sizes are the model's (``samurai_common.config``).

One copy, imported by ``samurai_sam2`` (Meta's ``sam2``) and ``samurai_hf`` (transformers); it
imports NumPy, the core and torch, never a segmenter's package. Torch is imported only by the
modules that compute with it (``boxes``, ``candidates``, ``devices``): importing this package or
``samurai_common.frames`` to open a video loads no torch; the torch helpers re-exported here
load on first use.
"""

from samurai_common.frames import FrameError, FrameSource, VideoEndedEarly, open_frames

# Re-exported names whose modules import torch: loaded when first asked for (module __getattr__).
_TORCH_EXPORTS = {
    "boxes_from_extrema": "samurai_common.boxes",
    "boxes_from_masks": "samurai_common.boxes",
    "candidates_to_host": "samurai_common.boxes",
    "resolve_device": "samurai_common.devices",
}


def __getattr__(name: str):
    module = _TORCH_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'samurai_common' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
