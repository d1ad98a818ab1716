"""Kalman kernels against filterpy (same F, H, Q, R each step) and against docs/algorithm.md's noise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import samurai_reference as ref
from filterpy.kalman import KalmanFilter

import samurai_core as sc

# float64 throughout; the two filters differ only by rounding (filterpy uses the Joseph form
# and an explicit inverse, the core a Cholesky solve).
RTOL = 1e-9


def random_walk(rng, T):
    box = np.array([40.0, 60.0, 90.0, 160.0])
    out = []
    vel = rng.normal(0, 2, 4)
    for _ in range(T):
        box = box + vel + rng.normal(0, 3, 4)
        box[2:] = np.maximum(box[2:], box[:2] + 3)
        out.append(box.copy())
    return np.array(out)


@pytest.mark.parametrize("model", sc.MOTION_MODELS)
def test_kalman_matches_filterpy_long_sequence(model):
    rng = np.random.default_rng(3)
    boxes = random_walk(rng, 300)
    noise = sc.NoiseParams()
    with jax.enable_x64(True):
        predict = jax.jit(lambda m, P: sc.kf_predict(model, noise, m, P))
        update = jax.jit(lambda m, P, z: sc.kf_update(model, noise, m, P, z))
        matrices = jax.jit(lambda m: sc.motion_matrices(model, noise, m))
        mean, cov = sc.kf_initiate(model, noise, jnp.asarray(boxes[0]))
        assert mean.dtype == jnp.float64
        f = KalmanFilter(dim_x=8, dim_z=4)
        f.x, f.P = np.array(mean), np.array(cov)
        worst = 0.0
        for t in range(1, len(boxes)):
            F, H, Q, _ = (np.asarray(x) for x in matrices(mean))
            f.F, f.Q = F, Q
            f.predict()
            mean, cov = predict(mean, cov)
            _, H, _, R = (np.asarray(x) for x in matrices(mean))
            f.H, f.R = H, R
            if t % 7 == 0:  # coast now and then: predict only
                continue
            f.update(np.asarray(sc.measure(model, jnp.asarray(boxes[t]))))
            mean, cov = update(mean, cov, jnp.asarray(boxes[t]))
            worst = max(
                worst,
                np.max(np.abs(np.asarray(mean) - f.x) / (1 + np.abs(f.x))),
                np.max(np.abs(np.asarray(cov) - f.P)) / np.max(np.abs(f.P)),
            )
            # Symmetric by construction, up to rounding (XLA may contract to FMAs), no drift.
            c = np.asarray(cov)
            assert np.max(np.abs(c - c.T)) <= 1e-13 * np.max(np.abs(c))
        assert worst < RTOL, worst


@pytest.mark.parametrize("model", sc.MOTION_MODELS)
def test_noise_matches_equations(model):
    """Q, R and P0 against samurai_reference.noise_stds (docs/algorithm.md written out by hand)."""
    rng = np.random.default_rng(4)
    noise = sc.NoiseParams(0.03, 0.07, 0.011, 0.013, 0.05, 0.02, 3e-5, 0.2)
    with jax.enable_x64(True):
        for _ in range(20):
            box = random_walk(rng, 1)[0]
            mean, P0 = sc.kf_initiate(model, noise, jnp.asarray(box))
            _, _, p0 = ref.noise_stds(model, noise, ref.to_z(model, box))
            np.testing.assert_allclose(np.asarray(P0), np.diag(p0**2), rtol=1e-12)
            mean = mean + jnp.asarray(rng.normal(0, 5, 8))
            _, _, Q, R = sc.motion_matrices(model, noise, mean)
            q, r, _ = ref.noise_stds(model, noise, np.asarray(mean)[:4])
            np.testing.assert_allclose(np.asarray(Q), np.diag(q**2), rtol=1e-12)
            np.testing.assert_allclose(np.asarray(R), np.diag(r**2), rtol=1e-12)


def test_xyah_defaults_are_design_md():
    """With default NoiseParams, "xyah" is docs/algorithm.md's official filter, literally."""
    sp, sv, h = 1 / 20, 1 / 160, 80.0
    box = np.array([10.0, 20.0, 50.0, 20.0 + h])
    with jax.enable_x64(True):
        mean, P0 = sc.kf_initiate("xyah", sc.NoiseParams(), jnp.asarray(box))
        _, _, Q, R = sc.motion_matrices("xyah", sc.NoiseParams(), mean)
    p0 = [2 * sp * h, 2 * sp * h, 1e-2, 2 * sp * h, 10 * sv * h, 10 * sv * h, 1e-5, 10 * sv * h]
    q = [sp * h, sp * h, 1e-2, sp * h, sv * h, sv * h, 1e-5, sv * h]
    r = [sp * h, sp * h, 1e-1, sp * h]
    np.testing.assert_allclose(np.asarray(mean), [30, 60, 0.5, 80, 0, 0, 0, 0])
    np.testing.assert_allclose(np.asarray(P0), np.diag(np.square(p0)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(Q), np.diag(np.square(q)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(R), np.diag(np.square(r)), rtol=1e-12)


def test_innovation_and_logpdf_against_scipy():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(5)
    noise = sc.NoiseParams()
    boxes = random_walk(rng, 10)
    with jax.enable_x64(True):
        mean, cov = sc.kf_initiate("xyah", noise, jnp.asarray(boxes[0]))
        for b in boxes[1:]:
            mean, cov = sc.kf_predict("xyah", noise, mean, cov)
            y, S = sc.kf_innovation("xyah", noise, mean, cov, jnp.asarray(b))
            _, H, _, R = (np.asarray(x) for x in sc.motion_matrices("xyah", noise, mean))
            S_ref = H @ np.asarray(cov) @ H.T + R
            np.testing.assert_allclose(np.asarray(S), S_ref, rtol=1e-12)
            z = ref.to_z("xyah", b)
            np.testing.assert_allclose(np.asarray(y), z - np.asarray(mean)[:4], rtol=1e-12)
            np.testing.assert_allclose(
                float(sc.gaussian_logpdf(y, S)),
                multivariate_normal(np.zeros(4), S_ref).logpdf(np.asarray(y)),
                rtol=1e-10,
            )
            mean, cov = sc.kf_update("xyah", noise, mean, cov, jnp.asarray(b))


def test_kernels_differentiable_in_noise():
    """Gradients w.r.t. traced noise fields exist and match finite differences."""
    box0 = np.array([10.0, 20.0, 50.0, 100.0])
    box1 = np.array([12.0, 21.0, 53.0, 104.0])

    def nll(log_sp):
        noise = sc.NoiseParams(std_position=jnp.exp(log_sp), std_measurement=jnp.exp(log_sp))
        m, P = sc.kf_initiate("xyah", noise, jnp.asarray(box0))
        m, P = sc.kf_predict("xyah", noise, m, P)
        y, S = sc.kf_innovation("xyah", noise, m, P, jnp.asarray(box1))
        return -sc.gaussian_logpdf(y, S)

    with jax.enable_x64(True):
        x = jnp.log(jnp.asarray(0.05))
        g = jax.jit(jax.grad(nll))(x)
        nll = jax.jit(nll)
        eps = 1e-6
        fd = (nll(x + eps) - nll(x - eps)) / (2 * eps)
        assert np.isfinite(float(g))
        np.testing.assert_allclose(float(g), float(fd), rtol=1e-6)


def test_collapsed_box_keeps_noise_positive():
    """A zero-height state still gives a positive definite S (scale clamped), so no NaN."""
    noise = sc.NoiseParams()
    mean = jnp.zeros(8)
    cov = jnp.zeros((8, 8))
    _, S = sc.kf_innovation("xyah", noise, mean, cov, jnp.array([0.0, 0.0, 1.0, 1.0]))
    assert np.all(np.linalg.eigvalsh(np.asarray(S)) > 0)
    m, P = sc.kf_update("xyah", noise, mean, cov, jnp.array([0.0, 0.0, 1.0, 1.0]))
    assert np.isfinite(np.asarray(m)).all() and np.isfinite(np.asarray(P)).all()


def test_unknown_motion_model():
    with pytest.raises(ValueError, match="motion_model='cxcy'.*use one of"):
        sc.kf_initiate("cxcy", sc.NoiseParams(), jnp.zeros(4))


@pytest.mark.parametrize("model", sc.MOTION_MODELS)
def test_block_form_matches_filterpy_and_dense_kernels(model):
    """The step's block-form filter (four 2×2 covariance blocks) against filterpy with the
    dense F, H, Q, R, and the dense kernels' covariance stays exactly block-diagonal (the
    property the block form rests on)."""
    rng = np.random.default_rng(5)
    boxes = random_walk(rng, 200)
    noise = sc.NoiseParams()
    with jax.enable_x64(True):
        predict = jax.jit(lambda m, b: sc.kf_predict_blocks(model, noise, m, b))
        update = jax.jit(lambda m, b, z: sc.kf_update_blocks(model, noise, m, b, z))
        matrices = jax.jit(lambda m: sc.motion_matrices(model, noise, m))
        mean, blocks = sc.kf_initiate_blocks(model, noise, jnp.asarray(boxes[0]))
        d_mean, d_cov = sc.kf_initiate(model, noise, jnp.asarray(boxes[0]))
        f = KalmanFilter(dim_x=8, dim_z=4)
        f.x, f.P = np.array(mean), np.array(sc.blocks_to_cov(blocks))
        off_block = np.ones((8, 8), bool)
        for k in range(4):
            for r in (k, k + 4):
                off_block[r, k] = off_block[r, k + 4] = False
        for t in range(1, len(boxes)):
            F, _, Q, _ = (np.asarray(x) for x in matrices(mean))
            f.F, f.Q = F, Q
            f.predict()
            mean, blocks = predict(mean, blocks)
            d_mean, d_cov = sc.kf_predict(model, noise, d_mean, d_cov)
            if t % 5 != 0:  # coast now and then
                _, H, _, R = (np.asarray(x) for x in matrices(mean))
                f.H, f.R = H, R
                f.update(np.asarray(sc.measure(model, jnp.asarray(boxes[t]))))
                mean, blocks = update(mean, blocks, jnp.asarray(boxes[t]))
                d_mean, d_cov = sc.kf_update(model, noise, d_mean, d_cov, jnp.asarray(boxes[t]))
            cov = np.asarray(sc.blocks_to_cov(blocks))
            np.testing.assert_allclose(np.asarray(mean), f.x, rtol=RTOL, atol=1e-9)
            np.testing.assert_allclose(cov, f.P, rtol=RTOL, atol=1e-9 * np.abs(f.P).max())
            np.testing.assert_allclose(np.asarray(d_mean), np.asarray(mean), rtol=RTOL)
            assert (np.asarray(d_cov)[off_block] == 0).all()
            assert (cov[off_block] == 0).all()


@pytest.mark.parametrize("model", sc.MOTION_MODELS)
def test_kernels_take_trailing_batch_axes(model):
    """``[8, B]`` / ``[8, 8, B]`` states (what ``step`` passes) equal the vmapped one-track calls."""
    rng = np.random.default_rng(6)
    B = 5
    boxes = np.stack([random_walk(rng, 3) for _ in range(B)], 1)  # [T, B, 4]
    noise = sc.NoiseParams()
    with jax.enable_x64(True):
        one = jax.vmap(lambda b: sc.kf_initiate(model, noise, b))(jnp.asarray(boxes[0]))
        batched = sc.kf_initiate(model, noise, jnp.asarray(boxes[0]))
        np.testing.assert_allclose(np.moveaxis(np.asarray(batched[0]), -1, 0), one[0])
        np.testing.assert_allclose(np.moveaxis(np.asarray(batched[1]), -1, 0), one[1])
        m1, P1 = jax.vmap(lambda m, P: sc.kf_predict(model, noise, m, P))(*one)
        m1, P1 = jax.vmap(lambda m, P, z: sc.kf_update(model, noise, m, P, z))(m1, P1, jnp.asarray(boxes[1]))
        mb, Pb = sc.kf_predict(model, noise, *batched)
        mb, Pb = sc.kf_update(model, noise, mb, Pb, jnp.asarray(boxes[1]))
        np.testing.assert_allclose(np.moveaxis(np.asarray(mb), -1, 0), m1, rtol=1e-12)
        np.testing.assert_allclose(np.moveaxis(np.asarray(Pb), -1, 0), P1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            np.asarray(sc.kf_box(model, mb)),
            jax.vmap(lambda m: sc.kf_box(model, m))(m1),
            rtol=1e-12,
        )
