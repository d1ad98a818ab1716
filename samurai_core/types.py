"""Shape aliases and the array containers of the core.

Every container has a leading track axis ``B`` (a fixed capacity; ``TrackState.active`` says
which slots hold a track). ``M`` is the number of candidate masks per frame (3 in SAM 2) and
``H`` the length of the per-track ring buffer of past-frame scores (``SamuraiConfig.memory_window``).
Boxes are ``xyxy`` in pixels unless a name says otherwise.
"""

from __future__ import annotations

from typing import NamedTuple, Union

import numpy as np
from jaxtyping import Array, Bool, Float, Int

# Public entry points also accept NumPy arrays (backends hand the core host arrays).
AnyArray = Union[Array, np.ndarray]
Scalar = Union[float, Float[Array, ""]]

BoxXYXY = Float[Array, "*batch 4"]
Mean = Float[Array, "B 8"]
Cov = Float[Array, "B 8 8"]


class NoiseParams(NamedTuple):
    """Kalman noise weights, relative to the box size (official SAMURAI defaults).

    With ``s`` the size that scales a component (h for "xyah"; w for x/w and h for y/h in
    "xywh" and "xyxy") the standard deviations are:
    process: position ``std_position·s``, size ``std_size·s``, their rates
    ``std_velocity·s`` / ``std_size_velocity·s``; measurement: ``std_measurement·s``;
    initial covariance: 2× the position/size terms, 10× the rate terms.
    The aspect ratio of "xyah" is unscaled: ``std_aspect`` (process and initial),
    ``std_aspect_velocity`` (process and initial), ``std_aspect_measurement``.

    Fields may be Python floats (hashable: usable inside a static ``SamuraiConfig``) or JAX
    scalars (differentiable: used when fitting the noise model).
    """

    std_position: Scalar = 1.0 / 20
    std_size: Scalar = 1.0 / 20
    std_velocity: Scalar = 1.0 / 160
    std_size_velocity: Scalar = 1.0 / 160
    std_measurement: Scalar = 1.0 / 20
    std_aspect: Scalar = 1e-2
    std_aspect_velocity: Scalar = 1e-5
    std_aspect_measurement: Scalar = 1e-1


class TrackState(NamedTuple):
    """Per-video tracking state for ``B`` track slots. Create with ``samurai_core.init``."""

    mean: Float[Array, "B 8"]  # KF state in the motion model's coordinates
    cov: Float[Array, "B 8 8"]
    stable_frames: Int[Array, " B"]  # 0 = not started / reset
    active: Bool[Array, " B"]  # slot holds a track
    # Ring buffer of per-frame scores of the frames this track was stepped on.
    hist_frame: Int[Array, "B H"]  # frame index stored in the slot, -1 = empty
    hist_aff: Float[Array, "B H"]  # predicted IoU of the chosen candidate
    hist_obj: Float[Array, "B H"]  # object score logit
    hist_kf: Float[Array, "B H"]  # kf_score (motion IoU of the chosen candidate)
    hist_kf_valid: Bool[Array, "B H"]  # kf_score defined (motion scoring was used)
    hist_head: Int[Array, " B"]  # next slot to write


class Candidates(NamedTuple):
    """What a segmenter proposes for one frame, for every track slot."""

    boxes: Float[Array, "B M 4"]  # xyxy pixels of each candidate mask; zeros if empty
    aff: Float[Array, "B M"]  # predicted IoU (SAM's "ious")
    obj: Float[Array, " B"]  # object score logit
    frame_idx: Int[Array, ""]  # index of this frame in the video
    stepped: Bool[Array, " B"]  # tracks decided on this frame (False: left untouched)


class StepOutput(NamedTuple):
    """Decisions for one frame."""

    chosen: Int[Array, " B"]  # index of the chosen candidate
    score: Float[Array, "B M"]  # the score argmax'ed (aff, or a·kf_iou + (1-a)·aff)
    kf_iou: Float[Array, "B M"]  # IoU of each candidate with the predicted box (0 if unused)
    kf_score: Float[Array, " B"]  # kf_iou[chosen]; 0 where motion scoring was not used
    kf_score_valid: Bool[Array, " B"]  # motion scoring was used on this frame
    pred_box: Float[Array, "B 4"]  # KF prediction (xyxy) before the update; 0 if not started
    box: Float[Array, "B 4"]  # KF posterior box (xyxy) after the update; 0 if not started
    updated: Bool[Array, " B"]  # the KF took the chosen box as a measurement
    stable_frames: Int[Array, " B"]
    memory_mask: Bool[Array, "B H"]  # ring slots whose frames enter memory for the next frame
    memory_frames: Int[Array, "B K"]  # their frame indices, newest first, -1 padded (K = num_maskmem-1)


__all__ = [
    "AnyArray",
    "Array",
    "BoxXYXY",
    "Candidates",
    "Cov",
    "Mean",
    "NoiseParams",
    "StepOutput",
    "TrackState",
]
