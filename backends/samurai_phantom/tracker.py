"""Tracking with the SAMURAI core and the weight-free segmenter: the core in another tracker.

The loop is the whole integration a segmenter needs: per frame, propose ``M`` candidates per
track (boxes, predicted qualities, an object logit) from each track's memory, hand them to
``samurai_core.step`` in one batch, keep the candidate it chose, and condition the next frame
on the memory frames it chose (the conditioning frame plus ``out.memory_frames``), as SAM 2's
memory attention does.

SAMURAI has two halves, and each can be switched off through the config alone (see
``variant_config``): motion scoring (``kf_score_weight``) and memory selection (the
``memory_bank_*`` gates). With both off the loop is vanilla SAM 2's rule: argmax of the
predicted quality, and the last frames enter memory unconditionally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

import samurai_core as sc
from samurai_phantom.segmenter import PhantomSegmenter, memory_map

# The four ways to run the tracker: name -> (motion scoring, memory selection).
VARIANTS = {
    "vanilla": (False, False),
    "motion": (True, False),
    "memory": (False, True),
    "samurai": (True, True),
}


def variant_config(cfg: sc.SamuraiConfig, motion: bool, memory: bool) -> sc.SamuraiConfig:
    """``cfg`` with SAMURAI's motion scoring and/or memory selection switched off.

    Motion off: ``kf_score_weight = 0``, so the choice is the argmax of the predicted quality
    (the Kalman filter still runs, and its motion IoU still gates memory when memory is on).
    Memory off: the memory gates open, so the newest frames enter memory unconditionally.
    """
    if not motion:
        cfg = cfg._replace(kf_score_weight=0.0)
    if not memory:
        cfg = cfg._replace(
            memory_bank_iou_threshold=float("-inf"),
            memory_bank_obj_score_threshold=float("-inf"),
            memory_bank_kf_score_threshold=float("-inf"),
        )
    return cfg


def vanilla_config(cfg: sc.SamuraiConfig) -> sc.SamuraiConfig:
    """``cfg`` with SAMURAI switched off: argmax of the predicted quality, ungated memory."""
    return variant_config(cfg, motion=False, memory=False)


@dataclass
class TrackRun:
    """Everything one tracking run decided, frame by frame (``T`` frames, ``B`` tracks)."""

    obj_ids: list[int]
    masks: np.ndarray  # bool [T, B, H, W]; frame 0 holds the prompts
    boxes: np.ndarray  # float32 [T, B, 4] xyxy of the kept masks (zeros if empty)
    chosen: np.ndarray  # int [T, B]; -1 on the prompt frame
    aff: np.ndarray  # float32 [T, B] predicted quality of the chosen candidate (NaN on frame 0)
    obj: np.ndarray  # float32 [T, B] object logit (NaN on frame 0)
    kf_iou: np.ndarray  # float32 [T, B] motion IoU of the chosen candidate (NaN if unused)
    stable: np.ndarray  # int [T, B] stable-frame count after the frame
    memory_frames: np.ndarray  # int [T, B, K] memory for the next frame (besides frame 0), -1 padded


def track(
    frames: np.ndarray,
    prompts: dict[int, np.ndarray],
    cfg: sc.SamuraiConfig | None = None,
    motion: bool = True,
    memory: bool = True,
    segmenter: PhantomSegmenter | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
    regions: Sequence | None = None,
) -> TrackRun:
    """Track every prompted object through ``frames`` (uint8 [T, H, W]).

    Args:
        frames: the clip.
        prompts: object id -> bool [H, W] mask on frame 0 (the conditioning frame).
        cfg: SAMURAI configuration (default ``samurai_core.preset("tiny")``).
        motion: False switches motion scoring off (see ``variant_config``).
        memory: False switches memory selection off; both False is vanilla SAM 2's rule.
        segmenter: candidate proposer (default ``PhantomSegmenter()``).
        progress: optional wrapper around the frame iterator (e.g. ``tqdm``).
        regions: per frame, ``segmenter.regions(frames[t])`` (entry 0 unused), to share the
            candidate regions between runs over the same clip; None finds them here.

    >>> from samurai_phantom.phantom import make_phantom
    >>> ph = make_phantom(n_frames=3, size=64)
    >>> run = track(ph.frames, {1: ph.masks[0] == 1})
    >>> run.masks.shape
    (3, 1, 64, 64)
    """
    if not prompts:
        raise ValueError("track needs at least one prompt mask (object id -> mask on frame 0)")
    cfg = variant_config(cfg or sc.preset("tiny"), motion, memory)
    segmenter = segmenter or PhantomSegmenter()
    obj_ids = sorted(prompts)
    n_t, h, w = frames.shape
    b = len(obj_ids)
    k = cfg.num_maskmem - 1

    masks = np.zeros((n_t, b, h, w), bool)
    boxes = np.zeros((n_t, b, 4), np.float32)
    chosen = np.full((n_t, b), -1, np.int64)
    aff = np.full((n_t, b), np.nan, np.float32)
    obj = np.full((n_t, b), np.nan, np.float32)
    kf_iou = np.full((n_t, b), np.nan, np.float32)
    stable = np.zeros((n_t, b), np.int64)
    mem_frames = np.full((n_t, b, k), -1, np.int64)

    for i, oid in enumerate(obj_ids):
        masks[0, i] = np.asarray(prompts[oid], bool)
        boxes[0, i] = sc.mask_to_box(masks[0, i])
    state = sc.add_tracks(cfg, sc.init(cfg, b), jnp.ones(b, bool))
    # Frame 1 is conditioned on the prompts alone.
    prior = masks[0].astype(np.float64)
    steps = range(1, n_t)
    for t in progress(steps) if progress else steps:
        props = segmenter.propose(frames[t], prior, regions[t] if regions is not None else None)
        cand = sc.Candidates(
            boxes=jnp.asarray(props.boxes),
            aff=jnp.asarray(props.aff),
            obj=jnp.asarray(props.obj),
            frame_idx=jnp.asarray(t, jnp.int32),
            stepped=jnp.ones(b, bool),
        )
        state, out = sc.step(cfg, state, cand)
        pick = np.asarray(out.chosen)
        rows = np.arange(b)
        present = props.obj > cfg.min_obj_score_logits
        masks[t] = props.masks[rows, pick] & present[:, None, None]
        boxes[t] = np.where(present[:, None], props.boxes[rows, pick], 0.0)
        chosen[t] = pick
        aff[t] = props.aff[rows, pick]
        obj[t] = props.obj
        kf_iou[t] = np.where(np.asarray(out.kf_score_valid), np.asarray(out.kf_score), np.nan)
        stable[t] = np.asarray(out.stable_frames)
        mem_frames[t] = np.asarray(out.memory_frames)
        # The conditioning frame is always in memory (as in SAM 2); the core chose the rest.
        for i in range(b):
            prior[i] = memory_map(masks[:, i], [0, *(f for f in mem_frames[t, i] if f >= 0)])
    return TrackRun(obj_ids, masks, boxes, chosen, aff, obj, kf_iou, stable, mem_frames)
