"""The per-frame SAMURAI decision for every track slot: ``init`` / ``add_tracks`` /
``remove_tracks`` / ``grow`` / ``step``, pure functions over a ``TrackState`` (packed, track
axis last; its fields are track-first views).

``step`` is one jitted call per frame (the config is static). ``_decide`` states the rules of
``docs/algorithm.md`` for all slots at once, as elementwise work over rows ``[B]`` (the
Kalman kernels take trailing batch axes), so XLA compiles it to a few vectorised kernels.

>>> import jax.numpy as jnp, samurai_core as sc
>>> cfg = sc.SamuraiConfig()
>>> state = sc.add_tracks(cfg, sc.init(cfg, capacity=2), jnp.array([True, False]))
>>> cand = sc.Candidates(
...     boxes=jnp.array([[[10., 10., 50., 60.], [0., 0., 5., 5.], [0., 0., 0., 0.]]] * 2),
...     aff=jnp.array([[0.9, 0.5, 0.1]] * 2), obj=jnp.array([3.0, 3.0]),
...     frame_idx=jnp.array(0), stepped=jnp.array([True, True]))
>>> state, out = sc.step(cfg, state, cand)
>>> out.chosen.tolist(), out.stable_frames.tolist(), out.memory_frames[0, :2].tolist()
([0, 0], [1, 0], [0, -1])
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Bool

from samurai_core import boxes as bx
from samurai_core import kalman as kf
from samurai_core.config import SamuraiConfig
from samurai_core.types import AnyArray, Candidates, StepOutput, TrackState, memory_words

_FLOAT_ROWS = 8 + 12  # mean, covariance blocks (see TrackState)


def init(cfg: SamuraiConfig, capacity: int) -> TrackState:
    """A state of ``capacity`` track slots, all inactive (start them with ``add_tracks``)."""
    cfg.validate()
    if not isinstance(capacity, (int, np.integer)) or capacity < 1:
        raise ValueError(f"capacity={capacity!r} must be a positive int (number of track slots)")
    B, H = int(capacity), cfg.memory_window
    f = jnp.zeros((_FLOAT_ROWS, B))
    i = jnp.broadcast_to(_fresh_column(H, active=False), (_int_rows(H), B))
    return TrackState(f, i, (H,))


def _int_rows(H: int) -> int:
    return 2 + memory_words(H) + H


def _fresh_column(H: int, active: bool):
    """The int rows of an empty slot: not started, ``active``, no history."""
    col = np.full((_int_rows(H), 1), -1, np.int32)
    col[: 2 + memory_words(H)] = 0
    col[1] = int(active)
    return jnp.asarray(col)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _set_tracks(cfg, state, mask, active):
    """``state`` with the slots in ``mask`` reset to a fresh track (``active``) or emptied."""
    f = jnp.where(mask[None], 0.0, state.f)
    i = jnp.where(mask[None], _fresh_column(cfg.memory_window, active), state.i)
    return TrackState(f, i, state.sizes)


def _check_mask(state: TrackState, mask) -> None:
    B = state.capacity
    if np.shape(mask) != (B,) or np.asarray(mask).dtype != np.bool_:
        raise ValueError(
            f"mask must be a bool array of shape ({B},) (one entry per track slot); "
            f"got shape {np.shape(mask)} dtype {getattr(mask, 'dtype', type(mask).__name__)}"
        )


def add_tracks(cfg: SamuraiConfig, state: TrackState, mask: Bool[AnyArray, " B"]) -> TrackState:
    """(Re)start the slots in ``mask``: active, not started, KF and history cleared.

    A slot that already holds a track is restarted (e.g. a new prompt for that object).
    """
    _check_state(cfg, state)
    _check_mask(state, mask)
    return _set_tracks(cfg, state, jnp.asarray(mask), True)


def remove_tracks(cfg: SamuraiConfig, state: TrackState, mask: Bool[AnyArray, " B"]) -> TrackState:
    """Deactivate and clear the slots in ``mask`` (later ``step`` calls leave them untouched)."""
    _check_state(cfg, state)
    _check_mask(state, mask)
    return _set_tracks(cfg, state, jnp.asarray(mask), False)


def grow(cfg: SamuraiConfig, state: TrackState, capacity: int) -> TrackState:
    """``state`` with ``capacity`` slots: the existing slots first, the new ones inactive.

    ``step`` compiles once per capacity, so grow by doubling (log2 compiles for N tracks).
    """
    _check_state(cfg, state)
    if not isinstance(capacity, (int, np.integer)) or capacity < state.capacity:
        raise ValueError(f"capacity={capacity!r} must be an int >= the current capacity {state.capacity}")
    bigger = init(cfg, int(capacity))
    f = bigger.f.at[:, : state.capacity].set(state.f)
    i = bigger.i.at[:, : state.capacity].set(state.i)
    return TrackState(f, i, state.sizes)


def _lowest_bits(words, count: int):
    """Keep the ``count`` lowest set bits (the ``count`` newest flagged frames).

    Returns ``(kept_words, ages[count, ...])`` with age -1 where fewer bits were set. Each
    round takes the lowest set bit of the first non-empty word and clears it
    (``x & (x - 1)``): ``count`` rounds of a few elementwise ops, no sort, no cumsum.
    """
    rest = list(words)
    ages = []
    one = jnp.uint32(1)
    for _ in range(count):
        x, w_of = rest[-1], jnp.full((), len(rest) - 1, jnp.int32)
        for w in reversed(range(len(rest) - 1)):
            nz = rest[w] != 0
            x, w_of = jnp.where(nz, rest[w], x), jnp.where(nz, w, w_of)
        pos = jax.lax.population_count((x & (~x + one)) - one).astype(jnp.int32)
        ages.append(jnp.where(x != 0, 32 * w_of + pos, -1))
        cleared = x & (x - one)
        if len(rest) == 1:
            rest = [cleared]
        else:
            rest = [jnp.where(w_of == w, cleared, r) for w, r in enumerate(rest)]
    kept = [w0 ^ w1 for w0, w1 in zip(words, rest)]
    return kept, jnp.stack(ages)


def _runtime_one(x, dtype):
    """``1`` of ``dtype``, computed from the traced ``x`` so that XLA cannot fold it."""
    return (jnp.asarray(x).astype(dtype) * 0.0 + 1.0).astype(dtype)


def _materialise(one, tree):
    """``tree`` unchanged, but computed ONCE by XLA.

    XLA's CPU fuser copies cheap producers into every consumer kernel, so a per-track value
    read by many entries (covariance entries, history rows) is recomputed per entry;
    ``optimization_barrier`` does not stop that. A float division is "expensive" to the fuser
    and is never duplicated, so the leaves are packed into one float vector and divided by a
    traced 1 (exact: ``x / 1 == x`` for every float, inf and NaN included). Bools and small
    ints (indices, counts, ages: all far below 2**24) travel as exact floats; ``uint32`` bit
    words as two 16-bit halves.
    """
    leaves, treedef = jax.tree.flatten(tree)
    parts = []
    for x in leaves:
        if x.dtype == jnp.uint32:
            parts += [(x & 0xFFFF).ravel(), (x >> 16).ravel()]
        else:
            parts.append(x.ravel())
    flat = jnp.concatenate([p.astype(one.dtype) for p in parts]) / one
    out, start = [], 0
    for x in leaves:
        if x.dtype == jnp.uint32:
            lo, hi = (flat[start + k * x.size : start + (k + 1) * x.size] for k in (0, 1))
            y = lo.astype(jnp.uint32) | (hi.astype(jnp.uint32) << 16)
            start += 2 * x.size
        else:
            y = flat[start : start + x.size].astype(x.dtype)
            start += x.size
        out.append(y.reshape(x.shape))
    return jax.tree.unflatten(treedef, out)


def _pick(onehot, x):
    """``x[chosen]`` per track from ``x [M, B, ...]`` and the rows of ``onehot`` ([M] of [B])."""
    out = x[0]
    for m in range(1, len(onehot)):
        mask = onehot[m].reshape(onehot[m].shape + (1,) * (x.ndim - 2))
        out = jnp.where(mask, x[m], out)
    return out


def _decide(cfg: SamuraiConfig, state: TrackState, cand: Candidates):
    """Rules 1–5 for every slot at once. Every per-track quantity is a row ``[B]`` (track axis
    last), so the whole decision is elementwise work over the tracks: no reductions, no
    per-track matrix ops, few XLA kernels.

    ``one`` (a traced 1) feeds ``_materialise``, which makes XLA compute each shared
    intermediate once instead of inside every consumer."""
    f, i = state.f, state.i
    B, W = f.shape[-1], memory_words(cfg.memory_window)
    mean, blocks = f[:8], f[8:_FLOAT_ROWS].reshape(3, 4, B)
    stable, active = i[0], i[1] != 0
    words = [jax.lax.bitcast_convert_type(i[2 + w], jnp.uint32) for w in range(W)]
    hist = i[2 + W :]
    one = _runtime_one(cand.frame_idx, f.dtype)

    motion = stable >= cfg.stable_frames_threshold
    c = _choose(cfg, mean, blocks, motion, cand, one)
    started = stable > 0
    # Untouched slots keep their state: every write below is gated by `do`.
    do = cand.stepped & active
    initiate, update, new_stable, gate = _stability(cfg, c, stable, started, motion)
    # The per-track updates, once: the covariance entries and history rows select on them.
    sel_init, sel_upd, sel_pred, do, new_stable, gate = _materialise(
        one, (do & initiate, do & update, do & started, do, new_stable, gate)
    )
    new_mean, new_blocks = _kalman_step(cfg, c, mean, blocks, (sel_init, sel_upd, sel_pred))
    pushed, hist_pushed = _push_history(cfg, words, hist, gate, cand.frame_idx)
    mem_words, mem_frames = _memory_frames(cfg, pushed, hist_pushed, one)

    has_kf = started | initiate
    out_pred = jnp.where(started[:, None], c.pred_box, 0.0)
    out_box = jnp.where(has_kf[:, None], kf.kf_box(cfg.motion_model, new_mean), 0.0)
    new_state = TrackState(
        jnp.concatenate([new_mean, new_blocks.reshape(12, B)]),
        jnp.concatenate(
            [
                jnp.where(do, new_stable, stable)[None],
                i[1:2],
                jnp.stack([_as_int(jnp.where(do, p, x)) for p, x in zip(pushed, words)]),
                jnp.where(do[None], hist_pushed, hist),
            ]
        ),
        state.sizes,
    )
    out_f = jnp.concatenate([c.score, c.kf_iou, c.kf_score[None], out_pred.T, out_box.T])
    out_i = jnp.concatenate(
        [
            c.chosen[None],
            motion[None].astype(jnp.int32),
            (initiate | update)[None].astype(jnp.int32),
            new_stable[None],
            mem_frames,
            jnp.stack([_as_int(w) for w in mem_words]),
        ]
    )
    K = cfg.num_maskmem - 1
    idle_i = jnp.concatenate(
        [
            jnp.zeros((3, B), jnp.int32),
            stable[None],
            jnp.full((K, B), -1, jnp.int32),
            jnp.zeros((W, B), jnp.int32),
        ]
    )
    row = do[None]
    out_i = jnp.where(row, out_i, idle_i)
    out = StepOutput(jnp.where(row, out_f, 0.0), out_i, (cand.aff.shape[1], cfg.memory_window, K))
    return new_state, out


def _as_int(x):
    return jax.lax.bitcast_convert_type(x, jnp.int32)


class _Choice(NamedTuple):
    """One frame's candidate choice for every slot (rows ``[B]``, or ``[M, B]``)."""

    chosen: jnp.ndarray  # int32 [B]
    aff_ch: jnp.ndarray  # [B] predicted IoU of the chosen candidate (-inf if not finite)
    measurable: jnp.ndarray  # bool [B]: the chosen box may reach the Kalman filter
    box_ch: jnp.ndarray  # [B, 4] the chosen box (a unit box where not measurable)
    kf_score: jnp.ndarray  # [B] kf_iou of the chosen candidate (0 outside rule 3)
    obj: jnp.ndarray  # [B] object logit (-inf if not finite)
    score: jnp.ndarray  # [M, B]
    kf_iou: jnp.ndarray  # [M, B]
    pred_mean: jnp.ndarray  # [8, B] Kalman prediction
    pred_blocks: jnp.ndarray  # [3, 4, B]
    pred_box: jnp.ndarray  # [B, 4]


def _choose(cfg: SamuraiConfig, mean, blocks, motion, cand: Candidates, one) -> _Choice:
    """Sanitise the candidates, predict, score (rule 3's motion-aware score where ``motion``,
    else the affinity) and pick each slot's candidate."""
    mm, noise = cfg.motion_model, cfg.noise
    dtype = mean.dtype
    B, M = cand.aff.shape
    boxes = jnp.swapaxes(cand.boxes.astype(dtype), 0, 1)  # [M, B, 4]
    aff = cand.aff.astype(dtype).T  # [M, B]
    obj = cand.obj.astype(dtype)

    # Sanitise: non-finite scores lose every comparison; unusable boxes never reach the KF.
    finite = jnp.isfinite(aff)
    usable = bx.box_valid(boxes) & finite
    aff_c = jnp.where(finite, aff, -jnp.inf)
    obj_c = jnp.where(jnp.isfinite(obj), obj, -jnp.inf)
    present = obj_c > cfg.min_obj_score_logits

    # Materialise the prediction once: XLA would otherwise recompute it inside every entry
    # of the update and of the selects below.
    pm, pB = _materialise(one, kf.kf_predict_blocks(mm, noise, mean, blocks))
    pred_box = kf.kf_box(mm, pm)  # [B, 4]
    kf_iou = jnp.where(usable & motion[None], bx.box_iou(pred_box[None], boxes), 0.0)
    a = cfg.kf_score_weight
    # a == 1 would give 0·(-inf) = NaN for a non-finite aff; the aff term is then absent.
    aff_term = (1.0 - a) * aff_c if a < 1.0 else jnp.zeros_like(aff_c)
    score = jnp.where(motion[None], a * kf_iou + aff_term, aff_c)
    score, kf_iou, usable, aff_c = _materialise(one, (score, kf_iou, usable, aff_c))
    # argmax over the M candidates, unrolled; the first maximum wins (as jnp.argmax).
    chosen = jnp.zeros((B,), jnp.int32)
    best = score[0]
    for m in range(1, M):
        better = score[m] > best
        chosen = jnp.where(better, m, chosen)
        best = jnp.where(better, score[m], best)

    onehot = [chosen == m for m in range(M)]
    aff_ch = _pick(onehot, aff_c)
    measurable = _pick(onehot, usable) & present
    unit_box = jnp.array([[0.0, 0.0, 1.0, 1.0]], dtype)
    box_ch = jnp.where(measurable[:, None], _pick(onehot, boxes), unit_box)
    kf_score = jnp.where(motion, _pick(onehot, kf_iou), 0.0)
    # The choice, once ([B] each): everything after it is cheap per-entry work on it.
    chosen, aff_ch, measurable, box_ch, kf_score = _materialise(
        one, (chosen, aff_ch, measurable, box_ch, kf_score)
    )
    return _Choice(chosen, aff_ch, measurable, box_ch, kf_score, obj_c, score, kf_iou, pm, pB, pred_box)


def _stability(cfg: SamuraiConfig, c: _Choice, stable, started, motion):
    """Rules 1–3's bookkeeping and rule 5's memory gate of this frame.

    Returns ``(initiate, update, new_stable, gate)`` rows ``[B]``."""
    thr = cfg.stable_ious_threshold
    # Warm-up needs aff > thr; a stable track resets on aff < thr (official asymmetry).
    keep = jnp.where(motion, ~(c.aff_ch < thr), c.aff_ch > thr)
    initiate = ~started & c.measurable
    update = started & keep & c.measurable
    new_stable = jnp.where(
        started,
        jnp.where(keep, jnp.where(c.measurable & ~motion, stable + 1, stable), 0),
        jnp.where(c.measurable, 1, 0),
    ).astype(jnp.int32)
    gate = (
        (c.aff_ch > cfg.memory_bank_iou_threshold)
        & (c.obj > cfg.memory_bank_obj_score_threshold)
        & (~motion | (c.kf_score > cfg.memory_bank_kf_score_threshold))
    )
    return initiate, update, new_stable, gate


def _kalman_step(cfg: SamuraiConfig, c: _Choice, mean, blocks, selects):
    """The new Kalman mean and covariance blocks: initiated, updated, predicted only, or
    unchanged, as ``selects = (sel_init, sel_upd, sel_pred)`` say per slot."""
    mm, noise = cfg.motion_model, cfg.noise
    B = mean.shape[-1]
    sel_init, sel_upd, sel_pred = selects
    im, iB = kf.kf_initiate_blocks(mm, noise, c.box_ch)
    um, uB = kf.kf_update_blocks(mm, noise, c.pred_mean, c.pred_blocks, c.box_ch)

    def choose(n_axes, init_v, upd_v, pred_v, old_v):
        def g(x):
            return x.reshape((1,) * n_axes + (B,))

        return jnp.where(
            g(sel_init),
            init_v,
            jnp.where(g(sel_upd), upd_v, jnp.where(g(sel_pred), pred_v, old_v)),
        )

    return choose(1, im, um, c.pred_mean, mean), choose(2, iB, uB, c.pred_blocks, blocks)


def _push_history(cfg: SamuraiConfig, words, hist, gate, frame_idx):
    """This frame pushed into the history, kept in age order (a shift register: age 0 =
    newest): its gate bit into the bit words, its index into the frame rows."""
    H, W = cfg.memory_window, len(words)
    B = hist.shape[-1]
    pushed = []
    carry = gate.astype(jnp.uint32)
    for x in words:
        pushed.append((x << 1) | carry)
        carry = x >> 31
    top = H - 32 * (W - 1)  # bits used in the last word
    if top < 32:
        pushed[-1] = pushed[-1] & jnp.uint32((1 << top) - 1)
    frame_row = jnp.broadcast_to(jnp.asarray(frame_idx, jnp.int32), (1, B))
    return pushed, jnp.concatenate([frame_row, hist[:-1]])


def _memory_frames(cfg: SamuraiConfig, pushed, hist_pushed, one):
    """Rule 5: memory for the next frame: the newest frame, then the newest gated frames,
    within the look-back budget; ``K`` rounds of lowest-set-bit extraction on the bit words.

    Returns ``(mem_words, mem_frames [K, B])`` (frame -1 where fewer were kept)."""
    K = cfg.num_maskmem - 1
    sel = list(pushed)
    cap = cfg.max_obj_ptrs_in_encoder - 1
    if cap < K:  # otherwise the cap never changes the newest K kept frames
        sel, _ = _lowest_bits(sel, cap)
    sel[0] = sel[0] | jnp.uint32(1)  # the previous frame (age 0) always enters memory
    mem_words, mem_ages = _materialise(one, _lowest_bits(sel, K))
    mem_frames = jnp.take_along_axis(hist_pushed, jnp.maximum(mem_ages, 0), axis=0)
    return mem_words, jnp.where(mem_ages >= 0, mem_frames, -1)


_step_jit = jax.jit(_decide, static_argnums=0)


def _describe(x) -> str:
    return f"shape {tuple(np.shape(x))} dtype {getattr(x, 'dtype', type(x).__name__)}"


def _kind(x) -> str:
    dt = getattr(x, "dtype", None)
    if dt is None:
        dt = np.asarray(x).dtype
    return np.dtype(dt).kind


def _expect(name: str, x, shape: tuple, kinds: str, what: str) -> None:
    if tuple(np.shape(x)) != shape or _kind(x) not in kinds:
        raise ValueError(
            f"{name}: expected {what} of shape {shape}; got {_describe(x)}. "
            "Fix the array (or the capacity/config that sets the expected shape)."
        )


@functools.lru_cache(maxsize=64)
def _validated(cfg: SamuraiConfig) -> SamuraiConfig:
    return cfg.validate()


def _check_state(cfg: SamuraiConfig, state: TrackState) -> None:
    if not isinstance(cfg, SamuraiConfig):
        raise ValueError(f"cfg must be a SamuraiConfig; got {type(cfg).__name__}")
    _validated(cfg)
    if not isinstance(state, TrackState):
        raise ValueError(
            f"state must be a TrackState (create it with samurai_core.init); got {type(state).__name__}"
        )
    H = cfg.memory_window
    if state.sizes != (H,):
        raise ValueError(
            f"state was made for memory_window={state.sizes[0]} but cfg.memory_window={H}; "
            "step a state with the config it was made with (samurai_core.init(cfg, capacity))"
        )
    B = np.shape(state.f)[-1] if np.ndim(state.f) == 2 else -1
    _expect("state.f", state.f, (_FLOAT_ROWS, B), "f", f"float [{_FLOAT_ROWS}, B]")
    _expect("state.i", state.i, (_int_rows(H), B), "i", f"int32 (H = memory_window = {H})")
    if np.dtype(state.i.dtype) != np.int32:
        raise ValueError(f"state.i: expected int32; got {_describe(state.i)}")


def _check_candidates(state: TrackState, cand: Candidates) -> None:
    if not isinstance(cand, Candidates):
        raise ValueError(f"cand must be a samurai_core.Candidates; got {type(cand).__name__}")
    B = state.capacity
    M = np.shape(cand.aff)[1] if np.ndim(cand.aff) == 2 else -1
    _expect("cand.aff", cand.aff, (B, M if M > 0 else 3), "f", "float [B, M]")
    _expect("cand.boxes", cand.boxes, (B, M, 4), "f", "float xyxy [B, M, 4]")
    _expect("cand.obj", cand.obj, (B,), "f", "float [B]")
    _expect("cand.stepped", cand.stepped, (B,), "b", "bool [B]")
    _expect("cand.frame_idx", cand.frame_idx, (), "iu", "an int scalar")


# Signatures whose shapes and dtypes ``step`` has checked: a bounded LRU (like jit's own
# cache), so a long-lived process that sees many shapes does not grow it without bound.
_CHECKED_SIGNATURES_MAX = 64
_checked_signatures: OrderedDict = OrderedDict()


def _signature(cfg, state, cand):
    # Plain attribute reads only: this runs on every call.
    return (cfg, type(state), getattr(state, "sizes", None)) + tuple(
        (getattr(x, "shape", None), getattr(x, "dtype", type(x))) for x in (*state, *cand)
    )


def step(cfg: SamuraiConfig, state: TrackState, cand: Candidates) -> tuple[TrackState, StepOutput]:
    """Decide one frame for every track slot (rules 1–5 of ``docs/algorithm.md``).

    One jitted call (``cfg`` static; new values never retrace). Shapes and dtypes are checked
    once per signature (while it is among the last ``_CHECKED_SIGNATURES_MAX`` seen), outside
    the traced function; a mismatch raises ``ValueError`` naming the field, the expected and
    the given shape. Slots that are inactive or not ``stepped`` are left untouched (outputs:
    chosen 0, masks False, frames -1).
    """
    sig = _signature(cfg, state, cand)
    if sig in _checked_signatures:
        _checked_signatures.move_to_end(sig)
    else:
        _check_state(cfg, state)
        _check_candidates(state, cand)
        _checked_signatures[sig] = None
        if len(_checked_signatures) > _CHECKED_SIGNATURES_MAX:
            _checked_signatures.popitem(last=False)
    return _step_jit(cfg, state, cand)


__all__ = ["add_tracks", "grow", "init", "remove_tracks", "step"]
