"""Tracker configuration: the official SAMURAI hyper-parameters and model presets."""

from __future__ import annotations

from typing import NamedTuple

from samurai_core.motion_models import MOTION_MODELS as MOTION_MODELS  # re-exported
from samurai_core.motion_models import check_motion_model
from samurai_core.types import NoiseParams


class SamuraiConfig(NamedTuple):
    """Static configuration of the SAMURAI decision (hashable: a ``jax.jit`` static argument).

    Names and defaults follow the official SAMURAI configs (hiera t/s/b+).
    """

    kf_score_weight: float = 0.25  # a: weight of motion IoU in the mask score
    stable_frames_threshold: int = 15  # successful KF updates before motion scoring is used
    stable_ious_threshold: float = 0.3  # chosen predicted IoU below this resets stability
    min_obj_score_logits: float = -1.0  # object present iff logit > this
    memory_bank_iou_threshold: float = 0.5  # memory gate on the chosen predicted IoU
    memory_bank_obj_score_threshold: float = 0.0  # memory gate on the object logit
    memory_bank_kf_score_threshold: float = 0.0  # memory gate on the motion IoU
    num_maskmem: int = 7  # memory slots: 1 conditioning + num_maskmem-1 selected frames
    max_obj_ptrs_in_encoder: int = 16  # look-back budget: up to 15 selected frames
    memory_window: int = 64  # H: past frames scored in the ring buffer (fixed shape)
    motion_model: str = "xyah"  # "xyah" (official parity), "xywh" (seed write-up), "xyxy"
    noise: NoiseParams = NoiseParams()

    def validate(self) -> SamuraiConfig:
        """Return self, or raise ValueError naming the bad field and the fix."""
        check_motion_model(self.motion_model)
        if not 0.0 <= self.kf_score_weight <= 1.0:
            raise ValueError(f"kf_score_weight={self.kf_score_weight} must lie in [0, 1]")
        if self.num_maskmem < 2:
            raise ValueError(f"num_maskmem={self.num_maskmem} must be >= 2 (1 conditioning + 1)")
        if self.memory_window < self.num_maskmem - 1:
            raise ValueError(
                f"memory_window={self.memory_window} must be >= num_maskmem-1={self.num_maskmem - 1}"
            )
        if self.stable_frames_threshold < 1:
            raise ValueError("stable_frames_threshold must be >= 1")
        return self


# The official configs use a = 0.25 for hiera tiny/small/base+ and 0.15 for large.
PRESETS: dict[str, SamuraiConfig] = {
    "tiny": SamuraiConfig(kf_score_weight=0.25),
    "small": SamuraiConfig(kf_score_weight=0.25),
    "base_plus": SamuraiConfig(kf_score_weight=0.25),
    "large": SamuraiConfig(kf_score_weight=0.15),
}


def preset(name: str, **overrides) -> SamuraiConfig:
    """The config for a SAM 2 model size, with optional field overrides.

    >>> preset("large").kf_score_weight
    0.15
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; use one of {sorted(PRESETS)}")
    return PRESETS[name]._replace(**overrides).validate()
