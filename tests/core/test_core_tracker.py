"""``samurai_core.step`` against the NumPy reference, jit vs no-jit, batched vs looped,
retracing, track management, input validation and layering."""

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import samurai_reference as ref
from core_traces import make_traces, run_core

import samurai_core as sc
from samurai_core import tracker

EXACT = ["chosen", "stable_frames", "memory_frames", "updated", "kf_score_valid"]
CLOSE = ["box", "pred_box", "kf_score", "kf_iou", "score"]
REF_NAME = {"stable_frames": "stable", "kf_score_valid": "kf_valid"}

# Each case: (config, seed). Small ring buffers (memory_window) wrap around within T = 40;
# low stable thresholds keep most frames in the motion-scoring branch.
CASES = [
    (sc.SamuraiConfig(motion_model="xyah", stable_frames_threshold=3, memory_window=8, num_maskmem=4), 10),
    (
        sc.SamuraiConfig(
            motion_model="xywh", stable_frames_threshold=3, memory_window=8, max_obj_ptrs_in_encoder=3
        ),
        11,
    ),
    (sc.SamuraiConfig(motion_model="xyxy", stable_frames_threshold=5, memory_window=6), 12),
    (
        sc.SamuraiConfig(
            motion_model="xyah",
            stable_frames_threshold=1,
            memory_window=16,
            kf_score_weight=1.0,
            memory_bank_kf_score_threshold=0.2,
        ),
        13,
    ),
    (
        sc.SamuraiConfig(
            motion_model="xyah",
            kf_score_weight=0.0,
            stable_frames_threshold=2,
            memory_window=7,
            min_obj_score_logits=0.5,
        ),
        14,
    ),
]
SLOTS = 600  # per case: 200 traces of 3 tracks; 3000 tracks in all


def compare(got, exp, rtol, atol):
    for k in EXACT:
        e = exp[REF_NAME.get(k, k)]
        bad = np.argwhere(got[k] != e)
        assert bad.size == 0, f"{k} differs at [t, b] = {bad[:5].tolist()}"
    for k in CLOSE:
        np.testing.assert_allclose(got[k], exp[k], rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("cfg, seed", CASES, ids=[f"{c.motion_model}-{s}" for c, s in CASES])
def test_step_matches_reference_on_random_traces(cfg, seed):
    tr = make_traces(seed, T=40, B=SLOTS)
    with jax.enable_x64(True):
        got = run_core(cfg, tr, jnp.float64)
    exp = ref.run_reference(cfg, **tr)
    compare(got, exp, rtol=1e-9, atol=1e-7)

    # The traces exercise every branch (else the comparison would prove little).
    st, upd, stepped = exp["stable"], exp["updated"], tr["stepped"]
    prev = np.concatenate([np.zeros((1, SLOTS), int), st[:-1]])
    thr = cfg.stable_frames_threshold
    assert ((prev == 0) & upd).sum() > 500  # rule 1 (re)initiations
    assert thr == 1 or ((prev > 0) & (prev < thr) & (st == 0)).sum() > 20  # warm-up resets
    assert ((prev >= thr) & (st == 0)).sum() > 50  # stable resets (rule 3)
    assert ((prev > 0) & (st == prev) & ~upd & stepped).sum() > 50  # coasting
    assert (exp["kf_valid"] & (exp["chosen"] != np.argmax(tr["aff"], -1))).sum() > 20
    assert ((exp["memory_frames"] >= 0).sum(-1) < cfg.num_maskmem - 1).sum() > 100


def test_frame_idx_is_a_label_the_rules_never_compare():
    """Rule 5 records ``frame_idx``; no rule looks at its value (docs/algorithm.md). Any int
    labels but -1 (the filler of ``memory_frames``), negative, unordered or reversed, give the
    decisions of ``0..T-1`` with the frames renamed, and agree with the reference."""
    cfg, seed = CASES[0]
    tr = make_traces(seed + 200, T=30, B=120)
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.arange(-(10**6), 10**6), size=30, replace=False)
    labels[labels == -1] = -2
    labels[:10] = -np.arange(10, 0, -1) - 5  # negative frames early, when memory is filling
    relabelled = dict(tr, frame_idx=labels)
    base = run_core(cfg, dict(tr, frame_idx=np.arange(30)), jnp.float32)
    got = run_core(cfg, relabelled, jnp.float32)
    for k in EXACT + CLOSE:
        if k != "memory_frames":
            np.testing.assert_array_equal(got[k], base[k], err_msg=k)
    mem = base["memory_frames"]
    np.testing.assert_array_equal(got["memory_frames"], np.where(mem >= 0, labels[mem], -1))
    assert (got["memory_frames"] < -1).sum() > 100  # negative labels did enter memory
    compare(got, ref.run_reference(cfg, **relabelled), rtol=2e-4, atol=2e-2)


def test_checked_signatures_stay_bounded(monkeypatch):
    """``step`` remembers the signatures it has checked in a bounded LRU, not a growing set."""
    monkeypatch.setattr(tracker, "_CHECKED_SIGNATURES_MAX", 2)
    monkeypatch.setattr(tracker, "_checked_signatures", type(tracker._checked_signatures)())
    cfg = sc.SamuraiConfig(memory_window=8, num_maskmem=4)
    for capacity in (1, 2, 3, 1):
        state = sc.add_tracks(cfg, sc.init(cfg, capacity), np.ones(capacity, bool))
        cand = sc.Candidates(
            np.zeros((capacity, 3, 4), np.float32),
            np.zeros((capacity, 3), np.float32),
            np.zeros(capacity, np.float32),
            np.int32(0),
            np.ones(capacity, bool),
        )
        sc.step(cfg, state, cand)
        assert len(tracker._checked_signatures) <= 2
    # The newest two are kept, in use order; a bad input is still refused after eviction.
    assert [s[-1][0] for s in tracker._checked_signatures] == [(3,), (1,)]  # stepped: [B]
    with pytest.raises(ValueError, match="cand.obj"):
        sc.step(cfg, state, cand._replace(obj=np.zeros(capacity + 1, np.float32)))


def test_float32_step_matches_reference():
    cfg, seed = CASES[0]
    tr = make_traces(seed + 100, T=40, B=200)
    got = run_core(cfg, tr, jnp.float32)
    assert got["box"].dtype == np.float32
    exp = ref.run_reference(cfg, **tr)
    compare(got, exp, rtol=2e-4, atol=2e-2)


def test_memory_mask_agrees_with_memory_frames():
    cfg = sc.SamuraiConfig(stable_frames_threshold=3, memory_window=8, num_maskmem=5)
    tr = make_traces(7, T=30, B=50, events=False)
    state = sc.add_tracks(cfg, sc.init(cfg, 50), np.ones(50, bool))
    for t in range(30):
        cand = sc.Candidates(
            tr["cand_boxes"][t].astype(np.float32),
            tr["aff"][t].astype(np.float32),
            tr["obj"][t].astype(np.float32),
            np.int32(tr["frame_idx"][t]),
            tr["stepped"][t],
        )
        state, out = sc.step(cfg, state, cand)
        frames = np.asarray(state.hist_frame)
        mask, mf = np.asarray(out.memory_mask), np.asarray(out.memory_frames)
        for b in range(50):
            expected = sorted(frames[b][mask[b]], reverse=True)
            assert mf[b][: len(expected)].tolist() == expected
            assert (mf[b][len(expected) :] == -1).all()
            if tr["stepped"][t, b]:
                assert mf[b, 0] == tr["frame_idx"][t]  # the newest frame always enters memory


def test_jit_matches_no_jit():
    """From states in every branch (not started, warming up, stable), two eager steps
    (``jax.disable_jit``, op by op) agree with the jitted ones."""
    cfg = sc.SamuraiConfig(motion_model="xywh", stable_frames_threshold=3, memory_window=6)
    tr = make_traces(21, T=10, B=6, events=False)
    state = sc.add_tracks(cfg, sc.init(cfg, 6), np.ones(6, bool))

    def cand(t):
        return sc.Candidates(
            tr["cand_boxes"][t].astype(np.float32),
            tr["aff"][t].astype(np.float32),
            tr["obj"][t].astype(np.float32),
            np.int32(tr["frame_idx"][t]),
            tr["stepped"][t],
        )

    for t in range(8):
        state, _ = sc.step(cfg, state, cand(t))
    assert len(set(np.minimum(np.asarray(state.stable_frames), 3).tolist())) >= 2
    jitted, eager = state, state
    for t in (8, 9):
        jitted, out_j = sc.step(cfg, jitted, cand(t))
        with jax.disable_jit():
            eager, out_e = sc.step(cfg, eager, cand(t))
        for k in EXACT:
            np.testing.assert_array_equal(getattr(out_j, k), getattr(out_e, k), err_msg=k)
        for k in CLOSE:
            np.testing.assert_allclose(getattr(out_j, k), getattr(out_e, k), rtol=1e-5, atol=1e-4, err_msg=k)
    for name in state._fields:
        np.testing.assert_allclose(
            np.asarray(getattr(jitted, name)),
            np.asarray(getattr(eager, name)),
            rtol=1e-5,
            atol=1e-3,
            err_msg=name,
        )


def test_batched_matches_looped_single_tracks():
    cfg = sc.SamuraiConfig(stable_frames_threshold=3, memory_window=8)
    tr = make_traces(22, T=30, B=5)
    batched = run_core(cfg, tr, jnp.float32)
    for b in range(5):
        one = {k: v[:, b : b + 1] for k, v in tr.items() if k != "frame_idx"}
        single = run_core(cfg, {**one, "frame_idx": tr["frame_idx"]}, jnp.float32)
        for k in EXACT:
            np.testing.assert_array_equal(single[k][:, 0], batched[k][:, b], err_msg=k)
        for k in CLOSE:
            np.testing.assert_allclose(single[k][:, 0], batched[k][:, b], rtol=1e-6, atol=1e-5, err_msg=k)


def random_cand(rng, B, M, frame):
    boxes = rng.uniform(0, 100, (B, M, 4)).astype(np.float32)
    boxes[..., 2:] += boxes[..., :2]
    return sc.Candidates(
        boxes,
        rng.uniform(0, 1, (B, M)).astype(np.float32),
        rng.normal(0, 2, B).astype(np.float32),
        np.int32(frame),
        np.ones(B, bool),
    )


def test_no_retrace_on_new_values_and_track_counts():
    cfg = sc.SamuraiConfig(memory_window=9)  # a config no other test compiles
    rng = np.random.default_rng(0)
    state = sc.init(cfg, 4)
    state = sc.add_tracks(cfg, state, np.array([True, False, False, False]))
    state = sc.remove_tracks(cfg, state, np.array([False, False, False, True]))
    state, _ = sc.step(cfg, state, random_cand(rng, 4, 3, 0))
    steps, sets = tracker._step_jit._cache_size(), tracker._set_tracks._cache_size()
    for t in range(1, 6):
        add = rng.random(4) < 0.5  # a different number of tracks each time
        state = sc.add_tracks(cfg, state, add)
        state = sc.remove_tracks(cfg, state, rng.random(4) < 0.2)
        state, out = sc.step(cfg, state, random_cand(rng, 4, 3, t))
    assert tracker._step_jit._cache_size() == steps
    assert tracker._set_tracks._cache_size() == sets


def test_untouched_slots_are_identical():
    cfg = sc.SamuraiConfig(stable_frames_threshold=2, memory_window=8)
    rng = np.random.default_rng(1)
    state = sc.add_tracks(cfg, sc.init(cfg, 4), np.array([True, True, True, False]))
    for t in range(5):
        state, _ = sc.step(cfg, state, random_cand(rng, 4, 3, t))
    cand = random_cand(rng, 4, 3, 5)._replace(stepped=np.array([True, False, True, True]))
    new, out = sc.step(cfg, state, cand)
    for name in state._fields:
        old_f, new_f = np.asarray(getattr(state, name)), np.asarray(getattr(new, name))
        np.testing.assert_array_equal(old_f[[1, 3]], new_f[[1, 3]], err_msg=name)
    o = {k: np.asarray(v) for k, v in out._asdict().items()}
    assert o["chosen"][[1, 3]].tolist() == [0, 0]
    assert not o["memory_mask"][[1, 3]].any() and (o["memory_frames"][[1, 3]] == -1).all()
    assert not o["updated"][[1, 3]].any() and not o["box"][[1, 3]].any()


def test_add_and_remove_tracks():
    cfg = sc.SamuraiConfig(memory_window=8)
    rng = np.random.default_rng(2)
    state = sc.init(cfg, 3)
    assert not np.asarray(state.active).any()
    state = sc.add_tracks(cfg, state, np.array([True, True, False]))
    for t in range(4):
        state, _ = sc.step(cfg, state, random_cand(rng, 3, 3, t))
    assert (np.asarray(state.hist_frame)[:2] >= 0).sum() == 8
    state = sc.remove_tracks(cfg, state, np.array([False, True, False]))
    assert np.asarray(state.active).tolist() == [True, False, False]
    assert (np.asarray(state.hist_frame)[1] == -1).all() and int(state.stable_frames[1]) == 0
    state = sc.add_tracks(cfg, state, np.array([True, False, True]))  # restart slot 0
    assert np.asarray(state.active).tolist() == [True, False, True]
    assert (np.asarray(state.hist_frame)[[0, 2]] == -1).all()
    assert np.asarray(state.stable_frames).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "field, bad, message",
    [
        ("boxes", np.zeros((4, 3, 5), np.float32), r"cand.boxes: expected .*\(4, 3, 4\).*\(4, 3, 5\)"),
        ("boxes", np.zeros((4, 2, 4), np.float32), r"cand.boxes: expected .*\(4, 3, 4\).*\(4, 2, 4\)"),
        ("aff", np.zeros((3, 3), np.float32), r"cand.aff: expected .*\(4, 3\).*\(3, 3\)"),
        ("obj", np.zeros((4, 1), np.float32), r"cand.obj: expected .*\(4,\).*\(4, 1\)"),
        ("stepped", np.ones(4, np.float32), r"cand.stepped: expected bool.*float32"),
        ("frame_idx", np.zeros(2, np.int32), r"cand.frame_idx: expected an int scalar.*\(2,\)"),
        ("frame_idx", np.float32(3), r"cand.frame_idx: expected an int scalar.*float32"),
        ("boxes", np.zeros((4, 3, 4), np.int32), r"cand.boxes: expected float.*int32"),
    ],
)
def test_bad_candidates_raise_clear_errors(field, bad, message):
    cfg = sc.SamuraiConfig(memory_window=8)
    state = sc.add_tracks(cfg, sc.init(cfg, 4), np.ones(4, bool))
    cand = random_cand(np.random.default_rng(0), 4, 3, 0)._replace(**{field: bad})
    with pytest.raises(ValueError, match=message):
        sc.step(cfg, state, cand)


def test_bad_state_and_config_raise_clear_errors():
    cfg = sc.SamuraiConfig(memory_window=8)
    state = sc.init(cfg, 4)
    cand = random_cand(np.random.default_rng(0), 4, 3, 0)
    with pytest.raises(ValueError, match=r"state was made for memory_window=8 but cfg.memory_window=12"):
        sc.step(cfg._replace(memory_window=12), state, cand)
    with pytest.raises(ValueError, match="motion_model='kalman'.*use one of"):
        sc.step(cfg._replace(motion_model="kalman"), state, cand)
    with pytest.raises(ValueError, match=r"mask must be a bool array of shape \(4,\)"):
        sc.add_tracks(cfg, state, np.ones(3, bool))
    with pytest.raises(ValueError, match="capacity=0 must be a positive int"):
        sc.init(cfg, 0)


def _run_python(code: str) -> None:
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_import_loads_no_torch():
    """Every public name of the core (all its modules) loads neither torch nor sam2."""
    _run_python(
        "import sys, samurai_core as sc\n"
        "for name in sc.__all__: getattr(sc, name)\n"
        "assert 'torch' not in sys.modules, 'torch'; assert 'sam2' not in sys.modules, 'sam2'\n"
        "print('ok')"
    )


def test_tracking_loads_no_optax():
    """Importing the core and tracking with it leave optax unloaded; it loads with the
    calibration names only (``docs/core.md``: optax only for fitting)."""
    _run_python(
        "import sys\n"
        "import numpy as np, samurai_core as sc\n"
        "assert 'optax' not in sys.modules, 'optax on import'\n"
        "cfg = sc.preset('tiny')\n"
        "state = sc.add_tracks(cfg, sc.init(cfg, 1), np.array([True]))\n"
        "box = sc.mask_to_box(np.ones((4, 5), bool))\n"
        "cand = sc.Candidates(np.tile(box, (1, 3, 1)), np.ones((1, 3), np.float32),\n"
        "                     np.ones(1, np.float32), np.int32(0), np.array([True]))\n"
        "sc.step(cfg, state, cand)\n"
        "sc.kf_initiate('xyah', cfg.noise, box)\n"
        "assert 'optax' not in sys.modules, 'optax while tracking'\n"
        "sc.fit_noise\n"
        "assert 'optax' in sys.modules, 'calibration did not load optax'\n"
        "print('ok')"
    )


def test_package_names_resolve_and_unknown_names_fail():
    import samurai_core as sc

    assert sorted(sc.__all__) == sc.__all__ and set(sc.__all__) <= set(dir(sc))
    for name in sc.__all__:
        assert getattr(sc, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        sc.not_a_name


def test_docstring_examples():
    import doctest

    from samurai_core import boxes, config

    for module in (tracker, config, boxes):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


@pytest.mark.parametrize(
    "override, message",
    [
        (dict(kf_score_weight=1.5), "kf_score_weight=1.5 must lie in"),
        (dict(num_maskmem=1), "num_maskmem=1 must be >= 2"),
        (dict(memory_window=4), "memory_window=4 must be >= num_maskmem-1=6"),
        (dict(stable_frames_threshold=0), "stable_frames_threshold must be >= 1"),
    ],
)
def test_bad_config_values(override, message):
    with pytest.raises(ValueError, match=message):
        sc.init(sc.SamuraiConfig(**override), 2)
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        sc.preset("huge")


def test_grow_keeps_slots_and_adds_inactive_ones():
    cfg = sc.SamuraiConfig(stable_frames_threshold=2, memory_window=8)
    rng = np.random.default_rng(4)
    state = sc.add_tracks(cfg, sc.init(cfg, 2), np.ones(2, bool))
    for t in range(4):
        state, _ = sc.step(cfg, state, random_cand(rng, 2, 3, t))
    big = sc.grow(cfg, state, 5)
    assert big.capacity == 5 and np.asarray(big.active).tolist() == [True, True] + [False] * 3
    for name in state._fields:
        np.testing.assert_array_equal(
            np.asarray(getattr(big, name))[:2], np.asarray(getattr(state, name)), err_msg=name
        )
    assert (np.asarray(big.hist_frame)[2:] == -1).all()
    # The grown state steps like the small one on the old slots.
    cand = random_cand(rng, 2, 3, 4)
    pad = sc.Candidates(
        np.concatenate([cand.boxes, np.zeros((3, 3, 4), np.float32)]),
        np.concatenate([cand.aff, np.zeros((3, 3), np.float32)]),
        np.concatenate([cand.obj, np.zeros(3, np.float32)]),
        cand.frame_idx,
        np.ones(5, bool),
    )
    _, out_small = sc.step(cfg, state, cand)
    _, out_big = sc.step(cfg, big, pad)
    for k in EXACT:
        np.testing.assert_array_equal(np.asarray(getattr(out_big, k))[:2], getattr(out_small, k))
    with pytest.raises(ValueError, match="must be an int >= the current capacity 2"):
        sc.grow(cfg, state, 1)


def test_host_copy_gives_numpy_views_equal_to_device_views():
    """One ``jax.device_get`` moves a whole output (two buffers); its fields are NumPy views."""
    cfg = sc.SamuraiConfig(stable_frames_threshold=2, memory_window=40)  # two bit words
    rng = np.random.default_rng(5)
    state = sc.add_tracks(cfg, sc.init(cfg, 3), np.ones(3, bool))
    for t in range(45):
        state, out = sc.step(cfg, state, random_cand(rng, 3, 3, t))
    host, host_state = jax.device_get(out), jax.device_get(state)
    assert isinstance(host.i, np.ndarray) and isinstance(host.memory_frames, np.ndarray)
    pairs = [(host, out), (host_state, state), (out.to_host(), out), (state.to_host(), state)]
    for obj, dev in pairs:
        for name in obj._fields:
            h, d = getattr(obj, name), getattr(dev, name)
            assert isinstance(h, np.ndarray) and h.shape == d.shape, name
            np.testing.assert_array_equal(h, np.asarray(d), err_msg=name)
    # hist_gate: the memory gate of each pushed frame; memory frames come from gated ages.
    gate, frames = host_state.hist_gate, host_state.hist_frame
    for b in range(3):
        kept = set(host.memory_frames[b][host.memory_frames[b] >= 0].tolist())
        gated = set(frames[b][gate[b]].tolist()) | {int(frames[b][0])}
        assert kept <= gated and int(frames[b][0]) in kept


def test_materialise_is_exact():
    x = jnp.array([1.5, -0.0, np.inf, -np.inf, 1e-30, 3.4e38, np.nan], jnp.float32)
    flags = jnp.array([True, False, True])
    ints = jnp.array([-1, 0, 7, 2**24 - 1], jnp.int32)
    words = jnp.array([0, 1, 0xFFFF, 0x10000, 0x89ABCDEF, 0xFFFFFFFF], jnp.uint32)

    @jax.jit
    def f(x, flags, ints, words, frame):
        one = tracker._runtime_one(frame, jnp.float32)
        return tracker._materialise(one, (x, flags, ints, words))

    gx, gf, gi, gw = f(x, flags, ints, words, jnp.int32(12))
    np.testing.assert_array_equal(np.asarray(gw), np.asarray(words))
    np.testing.assert_array_equal(np.asarray(gx), np.asarray(x))
    assert np.signbit(np.asarray(gx)[1])
    np.testing.assert_array_equal(np.asarray(gf), np.asarray(flags))
    np.testing.assert_array_equal(np.asarray(gi), np.asarray(ints))
