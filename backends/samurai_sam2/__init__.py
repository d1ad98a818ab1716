"""The SAM 2 backend: SAM 2's video predictor with SAMURAI's motion-aware decisions.

>>> from samurai_sam2 import build_samurai_video_predictor
>>> predictor = build_samurai_video_predictor("tiny", "sam2.1_hiera_tiny.pt")   # was: build_sam2_video_predictor
>>> state = predictor.init_state("video.mp4")

See ``docs/backend.md``.
"""

from samurai_common.boxes import boxes_from_masks
from samurai_common.frames import FrameError, FrameSource, open_frames
from samurai_sam2.build import (
    MODEL_CONFIGS,
    available_configs,
    build_sam2_model,
    build_samurai_video_predictor,
    check_image_size,
    default_image_size,
    load_checkpoint,
    model_size,
    resolve_config,
)
from samurai_sam2.class_prompts import ClassPromptError, ClassPrompts
from samurai_sam2.predictor import LazyVideoFrames, SamuraiVideoPredictor

__all__ = [
    "MODEL_CONFIGS",
    "ClassPromptError",
    "ClassPrompts",
    "FrameError",
    "FrameSource",
    "LazyVideoFrames",
    "SamuraiVideoPredictor",
    "available_configs",
    "boxes_from_masks",
    "build_sam2_model",
    "build_samurai_video_predictor",
    "check_image_size",
    "default_image_size",
    "load_checkpoint",
    "model_size",
    "open_frames",
    "resolve_config",
]
