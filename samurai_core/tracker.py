"""The per-frame SAMURAI decision for every track slot: ``init`` / ``add_tracks`` /
``remove_tracks`` / ``step``, pure functions over a ``TrackState`` with a leading track axis.

``step`` is one jitted call per frame (the config is static). The per-track kernel
``_step_one`` states the rules of ``docs/algorithm.md`` for ONE track and is ``jax.vmap``-ed
over the slots.

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

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Bool

from samurai_core import boxes as bx
from samurai_core import kalman as kf
from samurai_core.config import SamuraiConfig
from samurai_core.types import AnyArray, Candidates, StepOutput, TrackState


def init(cfg: SamuraiConfig, capacity: int) -> TrackState:
    """A state of ``capacity`` track slots, all inactive (start them with ``add_tracks``)."""
    cfg.validate()
    if not isinstance(capacity, (int, np.integer)) or capacity < 1:
        raise ValueError(f"capacity={capacity!r} must be a positive int (number of track slots)")
    B, H = int(capacity), cfg.memory_window
    return _cleared(
        TrackState(
            mean=jnp.zeros((B, 8)),
            cov=jnp.zeros((B, 8, 8)),
            stable_frames=jnp.zeros((B,), jnp.int32),
            active=jnp.zeros((B,), bool),
            hist_frame=jnp.full((B, H), -1, jnp.int32),
            hist_aff=jnp.zeros((B, H)),
            hist_obj=jnp.zeros((B, H)),
            hist_kf=jnp.zeros((B, H)),
            hist_kf_valid=jnp.zeros((B, H), bool),
            hist_head=jnp.zeros((B,), jnp.int32),
        ),
        jnp.ones((B,), bool),
        active=False,
    )


def _cleared(state: TrackState, mask, active: bool) -> TrackState:
    """``state`` with the slots in ``mask`` reset to a fresh track (``active``) or emptied."""
    m1 = mask[:, None]
    return TrackState(
        mean=jnp.where(m1, 0.0, state.mean),
        cov=jnp.where(mask[:, None, None], 0.0, state.cov),
        stable_frames=jnp.where(mask, 0, state.stable_frames),
        active=jnp.where(mask, active, state.active),
        hist_frame=jnp.where(m1, -1, state.hist_frame),
        hist_aff=jnp.where(m1, 0.0, state.hist_aff),
        hist_obj=jnp.where(m1, 0.0, state.hist_obj),
        hist_kf=jnp.where(m1, 0.0, state.hist_kf),
        hist_kf_valid=jnp.where(m1, False, state.hist_kf_valid),
        hist_head=jnp.where(mask, 0, state.hist_head),
    )


@functools.partial(jax.jit, static_argnums=(0, 3))
def _set_tracks(cfg, state, mask, active):
    return _cleared(state, mask, active)


def _check_mask(state: TrackState, mask) -> None:
    B = state.active.shape[0]
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


def remove_tracks(
    cfg: SamuraiConfig, state: TrackState, mask: Bool[AnyArray, " B"]
) -> TrackState:
    """Deactivate and clear the slots in ``mask`` (later ``step`` calls leave them untouched)."""
    _check_state(cfg, state)
    _check_mask(state, mask)
    return _set_tracks(cfg, state, jnp.asarray(mask), False)


def _age_words(flags, age, n_words: int):
    """Pack per-slot flags into ``n_words`` uint32 words in age order (bit ``a`` = age ``a``).

    Age 0 is the newest slot. Distinct powers of two, so the sum is a bitwise OR.
    """
    bit = jnp.left_shift(jnp.uint32(1), (age % 32).astype(jnp.uint32))
    word = age // 32
    return [
        jnp.sum(jnp.where(flags & (word == w), bit, jnp.uint32(0)), dtype=jnp.uint32)
        for w in range(n_words)
    ]


def _lowest_bits(words, count: int):
    """Keep the ``count`` lowest set bits (the ``count`` newest flagged slots).

    Returns ``(kept_words, ages[count])`` with age -1 where fewer bits were set. Each round
    clears the lowest set bit (``x & (x - 1)``) of the first non-empty word: ``count`` rounds
    of elementwise ops, no sort, no cumsum.
    """
    rest = list(words)
    ages = []
    for _ in range(count):
        found = jnp.zeros((), bool)
        age = jnp.full((), -1, jnp.int32)
        for w in range(len(rest)):
            x = rest[w]
            take = ~found & (x != 0)
            low = x & (~x + jnp.uint32(1))  # lowest set bit
            pos = jax.lax.population_count(low - jnp.uint32(1)).astype(jnp.int32)
            age = jnp.where(take, 32 * w + pos, age)
            rest[w] = jnp.where(take, x & (x - jnp.uint32(1)), x)
            found = found | take
        ages.append(age)
    kept = [w0 ^ w1 for w0, w1 in zip(words, rest)]
    return kept, jnp.stack(ages)


def _step_one(cfg: SamuraiConfig, s: TrackState, boxes, aff, obj, stepped, frame_idx):
    """Rules 1–5 for ONE track (every ``s`` field without the track axis). vmap me."""
    mm, noise = cfg.motion_model, cfg.noise
    dtype = s.mean.dtype
    M = aff.shape[0]
    H = s.hist_frame.shape[0]
    boxes = boxes.astype(dtype)
    aff = aff.astype(dtype)
    obj = obj.astype(dtype)

    # Sanitise: non-finite scores lose every comparison; unusable boxes never reach the KF.
    usable = bx.box_valid(boxes) & jnp.isfinite(aff)
    aff_c = jnp.where(jnp.isfinite(aff), aff, -jnp.inf)
    obj_c = jnp.where(jnp.isfinite(obj), obj, -jnp.inf)
    present = obj_c > cfg.min_obj_score_logits

    stable = s.stable_frames
    # Untouched slots keep their state: every write below is gated by `do` (one pass over
    # the buffers instead of a second select over the whole state).
    do = stepped & s.active
    started = stable > 0
    motion = stable >= cfg.stable_frames_threshold

    pm, pP = kf.kf_predict(mm, noise, s.mean, s.cov)
    pred_box = kf.kf_box(mm, pm)
    kf_iou = jnp.where(usable & motion, bx.box_iou(pred_box[None, :], boxes), 0.0)
    a = cfg.kf_score_weight
    # a == 1 would give 0·(-inf) = NaN for a non-finite aff; the aff term is then absent.
    aff_term = (1.0 - a) * aff_c if a < 1.0 else jnp.zeros_like(aff_c)
    score = jnp.where(motion, a * kf_iou + aff_term, aff_c)
    chosen = jnp.argmax(score).astype(jnp.int32)

    onehot = jnp.arange(M) == chosen
    aff_ch = jnp.max(jnp.where(onehot, aff_c, -jnp.inf))
    usable_ch = jnp.any(onehot & usable)
    measurable = usable_ch & present
    unit_box = jnp.array([0.0, 0.0, 1.0, 1.0], dtype)
    box_ch = jnp.sum(jnp.where(onehot[:, None] & usable[:, None], boxes, 0.0), axis=0)
    box_ch = jnp.where(measurable, box_ch, unit_box)
    kf_score = jnp.where(motion, jnp.sum(jnp.where(onehot, kf_iou, 0.0)), 0.0)

    im, iP = kf.kf_initiate(mm, noise, box_ch)
    um, uP = kf.kf_update(mm, noise, pm, pP, box_ch)
    # Materialise the candidate states once; the selects below would otherwise recompute
    # them per covariance entry.
    pm, pP, um, uP = jax.lax.optimization_barrier((pm, pP, um, uP))

    thr = cfg.stable_ious_threshold
    # Warm-up needs aff > thr; a stable track resets on aff < thr (official asymmetry).
    keep = jnp.where(motion, ~(aff_ch < thr), aff_ch > thr)
    initiate = ~started & measurable
    update = started & keep & measurable
    new_stable = jnp.where(
        started,
        jnp.where(keep, jnp.where(measurable & ~motion, stable + 1, stable), 0),
        jnp.where(measurable, 1, 0),
    ).astype(stable.dtype)
    new_mean = jnp.where(
        do & initiate, im, jnp.where(do & update, um, jnp.where(do & started, pm, s.mean))
    )
    new_cov = jnp.where(
        do & initiate, iP, jnp.where(do & update, uP, jnp.where(do & started, pP, s.cov))
    )
    has_kf = started | initiate
    out_pred = jnp.where(started, pred_box, 0.0)
    out_box = jnp.where(has_kf, kf.kf_box(mm, new_mean), 0.0)

    # Push this frame's scores into the ring buffer.
    head = s.hist_head
    slot = (jnp.arange(H) == head) & do
    hist_frame = jnp.where(slot, frame_idx.astype(s.hist_frame.dtype), s.hist_frame)
    hist_aff = jnp.where(slot, aff_ch, s.hist_aff)
    hist_obj = jnp.where(slot, obj_c, s.hist_obj)
    hist_kf = jnp.where(slot, kf_score, s.hist_kf)
    hist_kf_valid = jnp.where(slot, motion, s.hist_kf_valid)

    # Rule 5: memory for the next frame. Flags are packed into bit words in age order
    # (age 0 = the frame just pushed), so "the n newest flagged frames" is n rounds of
    # lowest-set-bit extraction instead of a sort or a cumsum over the ring.
    gate = (
        (hist_frame >= 0)
        & (hist_aff > cfg.memory_bank_iou_threshold)
        & (hist_obj > cfg.memory_bank_obj_score_threshold)
        & (~hist_kf_valid | (hist_kf > cfg.memory_bank_kf_score_threshold))
    )
    age = (head - jnp.arange(H)) % H
    n_words = -(-H // 32)
    words = _age_words(gate, age, n_words)
    K = cfg.num_maskmem - 1
    cap = cfg.max_obj_ptrs_in_encoder - 1
    if cap < K:  # otherwise the cap never changes the newest K kept frames
        words, _ = _lowest_bits(words, cap)
    words[0] = words[0] | jnp.uint32(1)  # the previous frame (age 0) always enters memory
    mem_words, mem_ages = _lowest_bits(words, K)
    # Materialise the few words: the per-slot mask would otherwise redo the bit rounds per slot.
    mem_words, mem_ages = jax.lax.optimization_barrier((mem_words, mem_ages))
    bit = jnp.left_shift(jnp.uint32(1), (age % 32).astype(jnp.uint32))
    word_of = age // 32
    memory_mask = jnp.zeros((H,), bool)
    for w in range(n_words):
        memory_mask = memory_mask | ((word_of == w) & ((mem_words[w] & bit) != 0))
    mem_slots = (head - mem_ages) % H
    memory_frames = jnp.where(mem_ages >= 0, hist_frame[mem_slots], -1)

    state = TrackState(
        mean=new_mean,
        cov=new_cov,
        stable_frames=jnp.where(do, new_stable, stable),
        active=s.active,
        hist_frame=hist_frame,
        hist_aff=hist_aff,
        hist_obj=hist_obj,
        hist_kf=hist_kf,
        hist_kf_valid=hist_kf_valid,
        hist_head=jnp.where(do, (head + 1) % H, head).astype(s.hist_head.dtype),
    )
    out = StepOutput(
        chosen=chosen,
        score=score,
        kf_iou=kf_iou,
        kf_score=kf_score,
        kf_score_valid=motion,
        pred_box=out_pred,
        box=out_box,
        updated=initiate | update,
        stable_frames=new_stable,
        memory_mask=memory_mask,
        memory_frames=memory_frames,
    )
    idle = StepOutput(
        chosen=jnp.zeros_like(chosen),
        score=jnp.zeros_like(score),
        kf_iou=jnp.zeros_like(kf_iou),
        kf_score=jnp.zeros_like(kf_score),
        kf_score_valid=jnp.zeros_like(motion),
        pred_box=jnp.zeros_like(out_pred),
        box=jnp.zeros_like(out_box),
        updated=jnp.zeros_like(initiate),
        stable_frames=stable,
        memory_mask=jnp.zeros_like(memory_mask),
        memory_frames=jnp.full_like(memory_frames, -1),
    )
    out = jax.tree.map(lambda n, o: jnp.where(do, n, o), out, idle)
    return state, out


@functools.partial(jax.jit, static_argnums=0)
def _step_jit(cfg: SamuraiConfig, state: TrackState, cand: Candidates):
    kernel = jax.vmap(functools.partial(_step_one, cfg), in_axes=(0, 0, 0, 0, 0, None))
    return kernel(
        state,
        cand.boxes,
        cand.aff,
        cand.obj,
        cand.stepped,
        jnp.asarray(cand.frame_idx),
    )


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
            f"state must be a TrackState (create it with samurai_core.init); got "
            f"{type(state).__name__}"
        )
    B = np.shape(state.active)[0] if np.ndim(state.active) == 1 else -1
    H = cfg.memory_window
    f, i, b = "f", "iu", "b"
    _expect("state.active", state.active, (B,), b, "bool")
    _expect("state.mean", state.mean, (B, 8), f, "float")
    _expect("state.cov", state.cov, (B, 8, 8), f, "float")
    _expect("state.stable_frames", state.stable_frames, (B,), i, "int")
    _expect("state.hist_head", state.hist_head, (B,), i, "int")
    for name in ("hist_frame", "hist_aff", "hist_obj", "hist_kf", "hist_kf_valid"):
        kinds = {"hist_frame": i, "hist_kf_valid": b}.get(name, f)
        _expect(
            f"state.{name}",
            getattr(state, name),
            (B, H),
            kinds,
            f"{'int' if kinds == i else 'bool' if kinds == b else 'float'} "
            f"(H = cfg.memory_window = {H})",
        )


def _check_candidates(state: TrackState, cand: Candidates) -> None:
    if not isinstance(cand, Candidates):
        raise ValueError(f"cand must be a samurai_core.Candidates; got {type(cand).__name__}")
    B = state.active.shape[0]
    M = np.shape(cand.aff)[1] if np.ndim(cand.aff) == 2 else -1
    _expect("cand.aff", cand.aff, (B, M if M > 0 else 3), "f", "float [B, M]")
    _expect("cand.boxes", cand.boxes, (B, M, 4), "f", "float xyxy [B, M, 4]")
    _expect("cand.obj", cand.obj, (B,), "f", "float [B]")
    _expect("cand.stepped", cand.stepped, (B,), "b", "bool [B]")
    _expect("cand.frame_idx", cand.frame_idx, (), "iu", "an int scalar")


_seen_signatures: set = set()


def _signature(cfg, state, cand):
    # Plain attribute reads only: this runs on every call (~3 µs for 25 fields).
    return (cfg,) + tuple(
        (getattr(x, "shape", None), getattr(x, "dtype", type(x))) for x in (*state, *cand)
    )


def step(cfg: SamuraiConfig, state: TrackState, cand: Candidates) -> tuple[TrackState, StepOutput]:
    """Decide one frame for every track slot (rules 1–5 of ``docs/algorithm.md``).

    One jitted call (``cfg`` static; new values never retrace). Shapes and dtypes are checked
    once per signature, outside the traced function; a mismatch raises ``ValueError`` naming
    the field, the expected and the given shape. Slots that are inactive or not ``stepped``
    are left untouched (outputs: chosen 0, masks False, frames -1).
    """
    sig = _signature(cfg, state, cand)
    if sig not in _seen_signatures:
        _check_state(cfg, state)
        _check_candidates(state, cand)
        _seen_signatures.add(sig)
    return _step_jit(cfg, state, cand)


__all__ = ["add_tracks", "init", "remove_tracks", "step"]
