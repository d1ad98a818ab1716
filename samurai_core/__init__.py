"""samurai_core: the pure JAX decision core of SAMURAI (motion-aware SAM 2 tracking).

Imports jax and numpy only (no torch). See ``docs/core.md``.
"""

from samurai_core.boxes import (
    box_iou,
    box_valid,
    cxcywh_to_xyxy,
    pairwise_iou,
    xyah_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xyah,
    xyxy_to_xywh,
)
from samurai_core.calibrate import (
    Calibration,
    FitHistory,
    MotionScore,
    config_with_noise,
    fit_noise,
    load_calibration,
    pad_tracks,
    save_calibration,
    score_noise,
)
from samurai_core.config import MOTION_MODELS, PRESETS, SamuraiConfig, preset
from samurai_core.kalman import (
    blocks_to_cov,
    gaussian_logpdf,
    kf_box,
    kf_initiate,
    kf_initiate_blocks,
    kf_innovation,
    kf_predict,
    kf_predict_blocks,
    kf_update,
    kf_update_blocks,
    measure,
    motion_matrices,
)
from samurai_core.simulate import simulate_cardiac_tracks, simulate_motion_tracks
from samurai_core.tracker import add_tracks, grow, init, remove_tracks, step
from samurai_core.types import Candidates, NoiseParams, StepOutput, TrackState

__all__ = [
    "Calibration",
    "FitHistory",
    "MotionScore",
    "config_with_noise",
    "fit_noise",
    "load_calibration",
    "pad_tracks",
    "save_calibration",
    "score_noise",
    "simulate_cardiac_tracks",
    "simulate_motion_tracks",
    "MOTION_MODELS",
    "PRESETS",
    "Candidates",
    "NoiseParams",
    "SamuraiConfig",
    "StepOutput",
    "TrackState",
    "add_tracks",
    "blocks_to_cov",
    "box_iou",
    "box_valid",
    "cxcywh_to_xyxy",
    "gaussian_logpdf",
    "grow",
    "init",
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
    "pairwise_iou",
    "preset",
    "remove_tracks",
    "step",
    "xyah_to_xyxy",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xyah",
    "xyxy_to_xywh",
]
