"""Random candidate traces that exercise every branch of the SAMURAI rules, and a driver that
runs ``samurai_core.step`` over them.

A trace is ``T`` frames for ``B`` track slots with ``M`` candidates each: a moving target box
with jitter, a distractor that drifts next to it, a random box, plus (at random) empty, NaN,
inf and negative-size boxes, non-finite and quantised affinities (exact ties and values equal
to the thresholds), absent objects, frames where a track is not stepped, restarts and
removals.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import samurai_core as sc


def make_traces(seed: int, T: int, B: int, M: int = 3, events: bool = True) -> dict:
    """Arrays ``cand_boxes [T,B,M,4], aff [T,B,M], obj [T,B], stepped [T,B], frame_idx [T]``
    (and ``restart``/``remove`` [T,B] when ``events``), float64."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(40, 200, (B, 2))
    size = rng.uniform(10, 80, (B, 2))
    vel = rng.normal(0, 3, (B, 2))
    boxes = np.empty((T, B, M, 4))
    for t in range(T):
        centre = centre + vel + rng.normal(0, 1.5, (B, 2))
        size = np.clip(size * np.exp(rng.normal(0, 0.05, (B, 2))), 4, 150)
        true = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        jitter = rng.normal(0, 2, (B, M, 4))
        boxes[t] = true[:, None, :] + jitter
        # A distractor beside the target and a random box, in random candidate slots.
        shift = rng.uniform(0.5, 1.5, (B, 1)) * size[:, :1]
        distractor = true + np.concatenate([shift, np.zeros((B, 1)), shift, np.zeros((B, 1))], 1)
        slot = rng.integers(0, M, B)
        boxes[t, np.arange(B), slot] = distractor
        rand_c = rng.uniform(0, 250, (B, 2))
        rand_s = rng.uniform(2, 60, (B, 2))
        slot2 = rng.integers(0, M, B)
        pick = rng.random(B) < 0.3
        boxes[t, np.arange(B)[pick], slot2[pick]] = np.concatenate(
            [rand_c - rand_s / 2, rand_c + rand_s / 2], 1
        )[pick]
    # Bad boxes: empty (zeros), NaN, inf, negative size, duplicates of another candidate.
    u = rng.random((T, B, M))
    boxes[u < 0.06] = 0.0
    boxes[(u >= 0.06) & (u < 0.08)] = np.nan
    boxes[(u >= 0.08) & (u < 0.09), 2] = np.inf
    neg = (u >= 0.09) & (u < 0.11)
    boxes[neg] = boxes[neg][:, [2, 1, 0, 3]]
    dup = rng.random((T, B)) < 0.05
    boxes[dup, 1] = boxes[dup, 0]
    # Whole frames with nothing at all.
    empty = rng.random((T, B)) < 0.04
    boxes[empty] = 0.0

    aff = rng.uniform(0, 1, (T, B, M))
    quant = rng.random((T, B, M)) < 0.25
    aff[quant] = rng.choice([0.0, 0.3, 0.5, 0.9], size=int(quant.sum()))
    ties = rng.random((T, B)) < 0.05
    aff[ties, 1] = aff[ties, 0]
    a = rng.random((T, B, M))
    aff[a < 0.02] = np.nan
    aff[(a >= 0.02) & (a < 0.03)] = np.inf
    aff[(a >= 0.03) & (a < 0.04)] = -np.inf
    # The target candidate is usually the best one, so tracks reach the stable branch.
    good = rng.random((T, B)) < 0.7
    aff[good, 0] = np.maximum(aff[good, 0], rng.uniform(0.6, 1.0, int(good.sum())))

    obj = rng.normal(2.0, 2.0, (T, B))
    obj[rng.random((T, B)) < 0.02] = np.nan
    obj[rng.random((T, B)) < 0.01] = -1.0  # exactly the presence threshold
    # Absent stretches (occlusion / dropout).
    for b in range(B):
        if rng.random() < 0.5:
            s = rng.integers(0, T)
            obj[s : s + rng.integers(2, 8), b] = -5.0
    stepped = rng.random((T, B)) > 0.05
    frame_idx = np.cumsum(rng.integers(1, 3, T)) - 1
    out = dict(cand_boxes=boxes, aff=aff, obj=obj, stepped=stepped, frame_idx=frame_idx)
    if events:
        out["restart"] = rng.random((T, B)) < 0.01
        out["remove"] = rng.random((T, B)) < 0.003
    else:
        out["restart"] = np.zeros((T, B), bool)
        out["remove"] = np.zeros((T, B), bool)
    return out


def run_core(cfg, tr: dict, dtype=jnp.float64, step=None) -> dict:
    """Run ``step`` (default ``samurai_core.step``) over a trace; outputs stacked as [T, B, ...]."""
    step = sc.step if step is None else step
    T, B = tr["obj"].shape
    state = sc.add_tracks(cfg, sc.init(cfg, B), np.ones(B, bool))
    outs = []
    for t in range(T):
        if tr["restart"][t].any():
            state = sc.add_tracks(cfg, state, tr["restart"][t])
        if tr["remove"][t].any():
            state = sc.remove_tracks(cfg, state, tr["remove"][t])
        cand = sc.Candidates(
            boxes=jnp.asarray(tr["cand_boxes"][t], dtype),
            aff=jnp.asarray(tr["aff"][t], dtype),
            obj=jnp.asarray(tr["obj"][t], dtype),
            frame_idx=jnp.asarray(tr["frame_idx"][t], jnp.int32),
            stepped=jnp.asarray(tr["stepped"][t]),
        )
        state, out = step(cfg, state, cand)
        outs.append(out)
    return {k: np.stack([np.asarray(getattr(o, k)) for o in outs]) for k in outs[0]._fields}
