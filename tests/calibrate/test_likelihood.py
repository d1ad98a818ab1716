"""The scan log-likelihood against a NumPy loop, padding invariance, gradients vs finite differences."""

import jax
import jax.numpy as jnp
import np_reference as ref
import numpy as np
import pytest

from samurai_core.calibrate import (
    filter_sequence,
    mean_nll,
    noise_from_log,
    pad_tracks,
    score_noise,
)
from samurai_core.kalman import gaussian_logpdf, kf_box, kf_initiate, kf_innovation, kf_predict, kf_update
from samurai_core.simulate import simulate_cardiac_tracks
from samurai_core.types import NoiseParams

MODELS = ("xyah", "xywh", "xyxy")
# Not the defaults, and every field different, so a swapped field shows.
NOISE = NoiseParams(0.03, 0.07, 0.011, 0.004, 0.02, 0.015, 3e-4, 0.05)
_filter = jax.jit(filter_sequence, static_argnums=0)


def _tracks_with_gaps(n=4, length=40, seed=0):
    """Cardiac-like tracks with absent frames, a NaN box, a zero-size box and a late start."""
    boxes, valid = simulate_cardiac_tracks(n, length, seed=seed, missing_rate=0.2)
    boxes = boxes.astype(np.float64)
    valid[0, :3] = False  # the filter starts at the first present box
    boxes[1, 5] = np.nan  # non-finite box marked present: treated as absent
    boxes[2, 7] = [10.0, 10.0, 10.0, 30.0]  # zero width, marked present: absent
    valid[1, 5] = valid[2, 7] = True
    return boxes, valid


@pytest.mark.parametrize("model", MODELS)
def test_scan_loglik_matches_numpy_loop(model):
    boxes, valid = _tracks_with_gaps()
    with jax.enable_x64(True):
        for b, v in zip(boxes, valid):
            want, want_pred, want_scored = ref.loglik(model, NOISE, b, v)
            out = _filter(model, NOISE, jnp.asarray(b), jnp.asarray(v))
            assert np.array_equal(np.asarray(out.scored), want_scored)
            np.testing.assert_allclose(float(jnp.sum(out.loglik)), want, rtol=1e-10)
            started = ~np.isnan(want_pred[:, 0])
            np.testing.assert_allclose(np.asarray(out.pred_box)[started], want_pred[started], rtol=1e-10)
            assert np.all(np.asarray(out.pred_box)[~started] == 0)


@pytest.mark.parametrize("model", MODELS)
def test_scan_matches_the_core_kalman_kernels(model):
    """The scan's per-coordinate filter is the core's dense one (its P stays block-diagonal)."""
    boxes, valid = _tracks_with_gaps(n=3, length=20)
    with jax.enable_x64(True):
        for b, v in zip(boxes, valid):
            v = v & np.isfinite(b).all(axis=1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
            first = int(np.argmax(v))
            mean, cov = kf_initiate(model, NOISE, b[first])
            want_ll, want_pred = [], []
            for t in range(first + 1, len(b)):
                mean, cov = kf_predict(model, NOISE, mean, cov)
                want_pred.append(np.asarray(kf_box(model, mean)))
                if v[t]:
                    want_ll.append(float(gaussian_logpdf(*kf_innovation(model, NOISE, mean, cov, b[t]))))
                    mean, cov = kf_update(model, NOISE, mean, cov, b[t])
            out = _filter(model, NOISE, jnp.asarray(b), jnp.asarray(v))
            np.testing.assert_allclose(np.asarray(out.loglik)[np.asarray(out.scored)], want_ll, rtol=1e-10)
            np.testing.assert_allclose(np.asarray(out.pred_box)[first + 1 :], want_pred, rtol=1e-10)


def test_loglik_float32_close_to_float64():
    boxes, valid = _tracks_with_gaps()
    want, _, _ = ref.loglik("xyah", NOISE, boxes[0], valid[0])
    got = float(jnp.sum(_filter("xyah", NOISE, boxes[0].astype(np.float32), valid[0]).loglik))
    np.testing.assert_allclose(got, want, rtol=1e-4)


@pytest.mark.parametrize("model", MODELS)
def test_padding_changes_nothing(model):
    boxes, valid = _tracks_with_gaps(n=3, length=37)
    padded_boxes, padded_valid = pad_tracks(list(boxes), list(valid), length=64)
    # Junk in the padding must not matter either: valid=False is what counts.
    padded_boxes[:, 37:] = np.where(np.arange(27)[:, None] % 2, np.nan, 1e9)
    for i in range(3):
        short = _filter(model, NOISE, boxes[i].astype(np.float32), valid[i])
        long = _filter(model, NOISE, padded_boxes[i], padded_valid[i])
        assert np.array_equal(np.asarray(long.loglik[:37]), np.asarray(short.loglik))
        assert np.all(np.asarray(long.loglik[37:]) == 0) and not np.any(long.scored[37:])
        np.testing.assert_allclose(float(jnp.sum(long.loglik)), float(jnp.sum(short.loglik)), rtol=1e-6)


def test_batch_nll_is_mean_over_scored_frames_of_all_lengths():
    rng = np.random.default_rng(3)
    boxes, valid = simulate_cardiac_tracks(5, 50, seed=3, missing_rate=0.1)
    lengths = rng.integers(2, 50, 5)
    tracks = [b[:n] for b, n in zip(boxes, lengths)]
    masks = [v[:n] for v, n in zip(valid, lengths)]
    pb, pv = pad_tracks(tracks, masks)
    total, frames = 0.0, 0
    for b, v in zip(tracks, masks):
        ll, _, scored = ref.loglik("xywh", NOISE, b, v)
        total += ll
        frames += scored.sum()
    np.testing.assert_allclose(float(mean_nll("xywh", NOISE, pb, pv)), -total / frames, rtol=1e-5)


def test_score_noise_iou_matches_numpy():
    boxes, valid = _tracks_with_gaps(n=3, length=30)
    score = score_noise("xyah", NOISE, boxes.astype(np.float32), valid)
    ious, nll, frames = [], 0.0, 0
    for b, v in zip(boxes, valid):
        ll, pred, scored = ref.loglik("xyah", NOISE, b, v)
        ious += [ref.iou(pred[t], b[t]) for t in np.flatnonzero(scored)]
        nll -= ll
        frames += scored.sum()
    assert score.n_frames == frames
    np.testing.assert_allclose(score.prediction_iou, np.mean(ious), rtol=1e-5)
    np.testing.assert_allclose(score.nll_per_frame, nll / frames, rtol=1e-5)


# xywh shares its noise terms with xyxy (scaled by w and h); its likelihood is checked above.
@pytest.mark.parametrize("model", ["xyah", "xyxy"])
def test_gradient_matches_finite_differences(model):
    boxes, valid = _tracks_with_gaps(n=4, length=25)
    valid[3] = False  # a track with no box at all contributes nothing, and no NaN
    boxes, valid = pad_tracks(list(boxes), list(valid), length=32)  # NaN padding
    with jax.enable_x64(True):
        b, v = jnp.asarray(boxes, jnp.float64), jnp.asarray(valid)
        theta = jnp.log(jnp.asarray(NOISE, jnp.float64))

        @jax.jit
        def loss(th):
            return mean_nll(model, noise_from_log(th), b, v)

        grad = np.asarray(jax.jit(jax.grad(loss))(theta))
        eps = 1e-6
        fd = np.array(
            [
                (float(loss(theta.at[i].add(eps))) - float(loss(theta.at[i].add(-eps)))) / (2 * eps)
                for i in range(8)
            ]
        )
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    if model != "xyah":  # no aspect ratio in the state: those weights cannot matter
        assert np.all(grad[5:] == 0)
    assert np.all(np.abs(grad[:5]) > 1e-6)
