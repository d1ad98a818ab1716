"""Tracking with the SAMURAI core and the weight-free segmenter: the core in another tracker.

The loop is the whole integration a segmenter needs: per frame, propose ``M`` candidates per
track (boxes, predicted qualities, an object logit), hand them to ``samurai_core.step`` in one
batch, keep the candidate it chose. The vanilla baseline is the same loop with the motion
weight set to zero and the memory gates open, which reduces the choice to SAM 2's
argmax of the predicted quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import jax.numpy as jnp
import numpy as np

import samurai_core as sc
from samurai_phantom.segmenter import PhantomSegmenter


def vanilla_config(cfg: sc.SamuraiConfig) -> sc.SamuraiConfig:
    """``cfg`` with SAMURAI switched off: argmax of the predicted quality, ungated memory."""
    return cfg._replace(
        kf_score_weight=0.0,
        memory_bank_iou_threshold=float("-inf"),
        memory_bank_obj_score_threshold=float("-inf"),
        memory_bank_kf_score_threshold=float("-inf"),
    )


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
    memory_frames: np.ndarray  # int [T, B, K] memory for the next frame, -1 padded


def track(
    frames: np.ndarray,
    prompts: dict[int, np.ndarray],
    cfg: sc.SamuraiConfig | None = None,
    samurai: bool = True,
    segmenter: PhantomSegmenter | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> TrackRun:
    """Track every prompted object through ``frames`` (uint8 [T, H, W]).

    Args:
        frames: the clip.
        prompts: object id -> bool [H, W] mask on frame 0 (the conditioning frame).
        cfg: SAMURAI configuration (default ``samurai_core.preset("tiny")``).
        samurai: False runs the vanilla choice (see ``vanilla_config``).
        segmenter: candidate proposer (default ``PhantomSegmenter()``).
        progress: optional wrapper around the frame iterator (e.g. ``tqdm``).

    >>> from samurai_phantom.phantom import make_phantom
    >>> ph = make_phantom(n_frames=3, size=64)
    >>> run = track(ph.frames, {1: ph.masks[0] == 1})
    >>> run.masks.shape
    (3, 1, 64, 64)
    """
    if not prompts:
        raise ValueError("track needs at least one prompt mask (object id -> mask on frame 0)")
    cfg = cfg or sc.preset("tiny")
    if not samurai:
        cfg = vanilla_config(cfg)
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
    memory = np.full((n_t, b, k), -1, np.int64)

    for i, oid in enumerate(obj_ids):
        masks[0, i] = np.asarray(prompts[oid], bool)
        boxes[0, i] = sc.mask_to_box(masks[0, i])
    state = sc.add_tracks(cfg, sc.init(cfg, b), jnp.ones(b, bool))
    # The segmenter's memory: the last non-empty mask of each track.
    prior = masks[0].copy()
    steps = range(1, n_t)
    for t in progress(steps) if progress else steps:
        props = segmenter.propose(frames[t], prior)
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
        memory[t] = np.asarray(out.memory_frames)
        keep = masks[t].any(axis=(1, 2))
        prior[keep] = masks[t][keep]
    return TrackRun(obj_ids, masks, boxes, chosen, aff, obj, kf_iou, stable, memory)
