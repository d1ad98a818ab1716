"""samurai_core: the pure JAX decision core of SAMURAI (motion-aware SAM 2 tracking).

Imports jax and numpy only (no torch); optax only for ``fit_noise`` and the other calibration
names. Public names load their module on first use (PEP 562), so ``import samurai_core``
itself is cheap, and a tracker never loads the calibration code. See ``docs/core.md``.
"""

from __future__ import annotations

import importlib

# Public name -> the submodule that defines it.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "box_iou",
            "box_valid",
            "boxes_from_extrema",
            "cxcywh_to_xyxy",
            "lasot_present",
            "lasot_to_xyxy",
            "mask_to_box",
            "pairwise_iou",
            "xyah_to_xyxy",
            "xywh_to_xyxy",
            "xyxy_to_cxcywh",
            "xyxy_to_lasot",
            "xyxy_to_xyah",
            "xyxy_to_xywh",
        ),
        "boxes",
    ),
    **dict.fromkeys(
        (
            "Calibration",
            "FitHistory",
            "MotionScore",
            "config_with_noise",
            "fit_noise",
            "calibration_from_dict",
            "calibration_to_dict",
            "pad_tracks",
            "score_noise",
        ),
        "calibrate",
    ),
    **dict.fromkeys(("PRESETS", "SamuraiConfig", "preset"), "config"),
    **dict.fromkeys(
        (
            "blocks_to_cov",
            "gaussian_logpdf",
            "kf_box",
            "kf_initiate",
            "kf_initiate_blocks",
            "kf_innovation",
            "kf_predict",
            "kf_predict_blocks",
            "kf_update",
            "kf_update_blocks",
            "measure",
            "motion_matrices",
        ),
        "kalman",
    ),
    "MOTION_MODELS": "motion_models",
    **dict.fromkeys(("simulate_cardiac_tracks", "simulate_motion_tracks"), "simulate"),
    **dict.fromkeys(("add_tracks", "grow", "init", "remove_tracks", "step"), "tracker"),
    **dict.fromkeys(("Candidates", "NoiseParams", "StepOutput", "TrackState"), "types"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'samurai_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"samurai_core.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
