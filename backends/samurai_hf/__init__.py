"""The transformers backend: SAMURAI on transformers' SAM 2, EdgeTAM and SAM 3 video trackers.

>>> from samurai_hf import build_samurai_hf_model
>>> model = build_samurai_hf_model("sam2.1-hiera-tiny-hf")   # was: Sam2VideoModel.from_pretrained(...)
>>> session = processor.init_video_session(video=frames, inference_device="cpu")

The processor, the session and ``propagate_in_video_iterator`` are the library's own. See
``docs/backend.md``.
"""

from samurai_hf.build import build_samurai_hf_model, default_processor, load_processor, read_family
from samurai_hf.model import (
    FAMILIES,
    TRANSFORMERS_VERSION,
    SamuraiEdgeTamVideoModel,
    SamuraiSam2VideoModel,
    SamuraiSam3TrackerVideoModel,
    SamuraiVideoMixin,
    TransformersVersionError,
    check_transformers_version,
)
from samurai_hf.video import HFVideoPredictor

__all__ = [
    "FAMILIES",
    "TRANSFORMERS_VERSION",
    "HFVideoPredictor",
    "SamuraiEdgeTamVideoModel",
    "SamuraiSam2VideoModel",
    "SamuraiSam3TrackerVideoModel",
    "SamuraiVideoMixin",
    "TransformersVersionError",
    "build_samurai_hf_model",
    "check_transformers_version",
    "default_processor",
    "load_processor",
    "read_family",
]
