"""Constant-velocity Kalman filter kernels for one track, or many along trailing batch axes.

State ``x = [p, v]`` with four box coordinates ``p`` (in the motion model's measurement
coordinates) and their rates ``v``; ``dt = 1``:

    F = [[I, I], [0, I]],   H = [I, 0],
    predict:  x' = F x,  P' = F P Fᵀ + Q(x)
    update:   S = H P Hᵀ + R(x),  K = P Hᵀ S⁻¹,  x' = x + K (z − H x),  P' = P − K S Kᵀ

Motion models (a static string):

- ``"xyah"``: ``p = [cx, cy, w/h, h]`` — the official SAMURAI filter. Noise scaled by ``h``
  except the aspect terms.
- ``"xywh"``: ``p = [x, y, w, h]`` (top-left corner). x/w components scaled by ``w``, y/h by ``h``.
- ``"xyxy"``: ``p = [x1, y1, x2, y2]``. x components scaled by ``w``, y by ``h``.

Noise standard deviations come from ``NoiseParams`` (see its docstring). As in the official
filter, ``Q`` is computed from the mean being predicted, ``R`` from the (predicted) mean being
updated, and the initial ``P`` from the measured box. The scale is ``max(|s|, MIN_NOISE_SCALE)``
so that a collapsing box never gives a singular innovation covariance.

The noise fields may be Python floats or traced JAX scalars: every kernel is differentiable in
them (this is how ``samurai_core.calibrate`` fits them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Float

from samurai_core import boxes as bx
from samurai_core.motion_models import check_motion_model
from samurai_core.types import AnyArray, Array, NoiseParams

# Pixels. Boxes are at least a pixel in practice; this only guards degenerate states.
MIN_NOISE_SCALE = 1e-2

# One track: ``[8]`` / ``[8, 8]`` / ``[4]``. Every kernel also takes any number of TRAILING batch
# axes on the state (``[8, B]``, ``[8, 8, B]``; components first, so a component is a contiguous
# row over the tracks) with boxes ``[B, 4]`` (coordinates last, as in ``boxes``).
State = Float[Array, "8 *batch"]
StateCov = Float[Array, "8 8 *batch"]
Box = Float[AnyArray, "*batch 4"]


def measure(motion_model: str, box_xyxy: Box) -> Float[Array, 4 * batch]:
    """The ``xyxy`` box in the motion model's measurement coordinates ``z = H x``."""
    check_motion_model(motion_model)
    if motion_model == "xyah":
        z = bx.xyxy_to_xyah(box_xyxy)
    elif motion_model == "xywh":
        z = bx.xyxy_to_xywh(box_xyxy)
    else:
        z = jnp.asarray(box_xyxy)
    return jnp.moveaxis(z, -1, 0)


def kf_box(motion_model: str, mean: State) -> Float[Array, "*batch 4"]:
    """The ``xyxy`` box of a state mean (its first four components)."""
    check_motion_model(motion_model)
    p = jnp.moveaxis(mean[:4], 0, -1)
    if motion_model == "xyah":
        return bx.xyah_to_xyxy(p)
    if motion_model == "xywh":
        return bx.xywh_to_xyxy(p)
    return p


def _noise_terms(motion_model: str, noise: NoiseParams, p: Float[Array, 4 * batch]):
    """Per-component standard deviations ``(pos[4], vel[4], meas[4], p0_pos[4], p0_vel[4])``.

    ``p`` holds the four position components (of a mean or of a measurement) that set the scale.
    """
    dtype = p.dtype
    # Constants as [4, 1, ...]: they broadcast over the trailing batch axes of ``p``.
    column = (4,) + (1,) * (p.ndim - 1)

    def vec(*xs):
        return jnp.stack([jnp.asarray(x, dtype) for x in xs]).reshape(column)

    if motion_model == "xyah":
        h = jnp.maximum(jnp.abs(p[3]), MIN_NOISE_SCALE)
        scale = jnp.stack([h, h, jnp.ones_like(h), h])
        pos = vec(noise.std_position, noise.std_position, noise.std_aspect, noise.std_size)
        vel = vec(
            noise.std_velocity,
            noise.std_velocity,
            noise.std_aspect_velocity,
            noise.std_size_velocity,
        )
        meas = vec(
            noise.std_measurement,
            noise.std_measurement,
            noise.std_aspect_measurement,
            noise.std_measurement,
        )
        # The aspect terms of the initial covariance are not multiplied (official filter).
        p0_pos = vec(2.0, 2.0, 1.0, 2.0)
        p0_vel = vec(10.0, 10.0, 1.0, 10.0)
    else:
        if motion_model == "xywh":
            w, h = p[2], p[3]
        else:
            w, h = p[2] - p[0], p[3] - p[1]
        w = jnp.maximum(jnp.abs(w), MIN_NOISE_SCALE)
        h = jnp.maximum(jnp.abs(h), MIN_NOISE_SCALE)
        scale = jnp.stack([w, h, w, h])
        pos = vec(noise.std_position, noise.std_position, noise.std_size, noise.std_size)
        vel = vec(
            noise.std_velocity,
            noise.std_velocity,
            noise.std_size_velocity,
            noise.std_size_velocity,
        )
        meas = vec(*([noise.std_measurement] * 4))
        p0_pos = vec(2.0, 2.0, 2.0, 2.0)
        p0_vel = vec(10.0, 10.0, 10.0, 10.0)
    return pos * scale, vel * scale, meas * scale, p0_pos * pos * scale, p0_vel * vel * scale


def motion_matrices(
    motion_model: str, noise: NoiseParams, mean: Float[Array, 8]
) -> tuple[Float[Array, "8 8"], Float[Array, "4 8"], Float[Array, "8 8"], Float[Array, "4 4"]]:
    """Dense ``(F, H, Q, R)`` at ``mean`` (for filterpy parity checks and calibration).

    ``Q`` is the process noise used by ``kf_predict(mean)`` and ``R`` the measurement noise
    used by ``kf_update(mean)``. The kernels themselves never build ``F`` or ``H``.
    """
    check_motion_model(motion_model)
    dtype = mean.dtype
    eye = jnp.eye(4, dtype=dtype)
    zero = jnp.zeros((4, 4), dtype)
    F = jnp.block([[eye, eye], [zero, eye]])
    H = jnp.concatenate([eye, zero], axis=1)
    pos, vel, meas, _, _ = _noise_terms(motion_model, noise, mean[:4])
    Q = jnp.diag(jnp.concatenate([pos, vel]) ** 2)
    R = jnp.diag(meas**2)
    return F, H, Q, R


def kf_initiate(motion_model: str, noise: NoiseParams, box_xyxy: Box) -> tuple[State, StateCov]:
    """Start a track at a measured box: ``x = [z, 0]``, ``P = diag(2σ_p, 10σ_v)²`` from the box."""
    check_motion_model(motion_model)
    z = measure(motion_model, box_xyxy)
    _, _, _, p0_pos, p0_vel = _noise_terms(motion_model, noise, z)
    mean = jnp.concatenate([z, jnp.zeros_like(z)])
    cov = _diag(jnp.concatenate([p0_pos, p0_vel]) ** 2)
    return mean, cov


def kf_predict(motion_model: str, noise: NoiseParams, mean: State, cov: StateCov) -> tuple[State, StateCov]:
    """One constant-velocity step: ``x' = F x``, ``P' = F P Fᵀ + Q(x)``.

    With ``P = [[A, B], [Bᵀ, C]]`` in 4×4 blocks, ``F P Fᵀ = [[(A+C) + (B+Bᵀ), B+C], [Bᵀ+C, C]]``,
    written out by blocks instead of two dense 8×8 products. ``Bᵀ`` is read from the lower
    block of ``P``, and every sum pairs terms symmetrically, so a symmetric ``P`` stays
    symmetric (up to rounding) without a transpose (transposes of tiny matrices are slow
    under ``vmap``).
    """
    check_motion_model(motion_model)
    pos, vel, _, _, _ = _noise_terms(motion_model, noise, mean[:4])
    p, v = mean[:4], mean[4:]
    new_mean = jnp.concatenate([p + v, v])
    A, B = cov[:4, :4], cov[:4, 4:]
    Bt, C = cov[4:, :4], cov[4:, 4:]
    top = jnp.concatenate([(A + C) + (B + Bt), B + C], axis=1)
    bottom = jnp.concatenate([Bt + C, C], axis=1)
    new_cov = jnp.concatenate([top, bottom], axis=0)
    new_cov = new_cov + _diag(jnp.concatenate([pos, vel]) ** 2)
    return new_mean, new_cov


def kf_innovation(
    motion_model: str, noise: NoiseParams, mean: State, cov: StateCov, box_xyxy: Box
) -> tuple[Float[Array, 4 * batch], Float[Array, "4 4 *batch"]]:
    """Innovation ``y = z − H x`` and its covariance ``S = H P Hᵀ + R(x)``.

    ``log N(y; 0, S)`` is the per-step log-likelihood of the measurement (see
    ``gaussian_logpdf``).
    """
    check_motion_model(motion_model)
    _, _, meas, _, _ = _noise_terms(motion_model, noise, mean[:4])
    z = measure(motion_model, box_xyxy)
    innov = z - mean[:4]
    S = cov[:4, :4] + _diag(meas**2)
    return innov, S


def kf_update(
    motion_model: str, noise: NoiseParams, mean: State, cov: StateCov, box_xyxy: Box
) -> tuple[State, StateCov]:
    """Measurement update with the ``xyxy`` box.

    ``K = P Hᵀ S⁻¹`` is obtained by a Cholesky solve of ``S Kᵀ = H P`` (never inverting ``S``).
    ``P' = P − K S Kᵀ = P − ½ Σ_k (u_k v_kᵀ + v_k u_kᵀ)`` with ``u_k`` the rows of ``H P`` and
    ``v_k`` the rows of ``Kᵀ``: the symmetrised form, symmetric by construction (up to
    rounding), without a transpose.
    """
    innov, S = kf_innovation(motion_model, noise, mean, cov, box_xyxy)
    u = cov[:4, :]  # H P: the first four rows of P.
    # Factor entries as [1, *batch]: they scale rows of ``u`` ([8, *batch]) without rank promotion.
    L = jax.tree.map(lambda x: x[None], _chol4(S))
    v = _chol4_solve(L, u)  # [4, 8] = S⁻¹ H P = Kᵀ
    # Materialise Kᵀ once: otherwise XLA fuses its sqrt/divide chain into every one of the 64
    # covariance entries and recomputes it there.
    v = jax.lax.optimization_barrier(v)
    # Rank-1 terms instead of dots and transposes: both are slow for tiny matrices under vmap.
    new_mean = mean + sum(innov[k : k + 1] * v[k] for k in range(4))
    new_cov = cov - 0.5 * sum(u[k][:, None] * v[k][None, :] + v[k][:, None] * u[k][None, :] for k in range(4))
    return new_mean, new_cov


# ------------------------------------------------------------------ block form
# With F = [[I, I], [0, I]], H = [I, 0] and diagonal Q, R and initial P (all three motion
# models), the covariance stays block-diagonal with one 2×2 block per coordinate k:
# [[var_p, cov_pv], [cov_pv, var_v]] over (p_k, v_k). Every other entry stays exactly 0 in
# floating point too (it is only ever a sum of products with exact zeros). The filter thus
# splits into four scalar filters; the block kernels store ``blocks = [var_p, cov_pv, var_v]``
# (``[3, 4, *batch]``) and do ~1/10 of the dense work. ``blocks_to_cov`` gives the dense P.
Blocks = Float[Array, "3 4 *batch"]


def kf_initiate_blocks(motion_model: str, noise: NoiseParams, box_xyxy: Box) -> tuple[State, Blocks]:
    """``kf_initiate`` in block form."""
    check_motion_model(motion_model)
    z = measure(motion_model, box_xyxy)
    _, _, _, p0_pos, p0_vel = _noise_terms(motion_model, noise, z)
    mean = jnp.concatenate([z, jnp.zeros_like(z)])
    return mean, jnp.stack([p0_pos**2, jnp.zeros_like(z), p0_vel**2])


def kf_predict_blocks(
    motion_model: str, noise: NoiseParams, mean: State, blocks: Blocks
) -> tuple[State, Blocks]:
    """``kf_predict`` in block form: ``F [[a, c], [c, d]] Fᵀ = [[a + 2c + d, c + d], [c + d, d]]``."""
    check_motion_model(motion_model)
    pos, vel, _, _, _ = _noise_terms(motion_model, noise, mean[:4])
    p, v = mean[:4], mean[4:]
    a, c, d = blocks[0], blocks[1], blocks[2]
    new_blocks = jnp.stack([(a + d) + (c + c) + pos**2, c + d, d + vel**2])
    return jnp.concatenate([p + v, v]), new_blocks


def kf_update_blocks(
    motion_model: str, noise: NoiseParams, mean: State, blocks: Blocks, box_xyxy: Box
) -> tuple[State, Blocks]:
    """``kf_update`` in block form: per coordinate ``s = a + r``, gains ``a/s`` and ``c/s``,
    ``P' = P − K s Kᵀ = [[a·r/s, c·r/s], [c·r/s, d − c²/s]]``."""
    check_motion_model(motion_model)
    _, _, meas, _, _ = _noise_terms(motion_model, noise, mean[:4])
    innov = measure(motion_model, box_xyxy) - mean[:4]
    a, c, d = blocks[0], blocks[1], blocks[2]
    r = meas**2
    s = a + r
    k_p, k_v, keep = a / s, c / s, r / s
    new_mean = jnp.concatenate([mean[:4] + k_p * innov, mean[4:] + k_v * innov])
    return new_mean, jnp.stack([a * keep, c * keep, d - k_v * c])


def blocks_to_cov(blocks: Blocks) -> StateCov:
    """The dense ``[8, 8, *batch]`` covariance of block-form ``blocks``."""
    a, c, d = blocks[0], blocks[1], blocks[2]
    top = jnp.concatenate([_diag(a), _diag(c)], axis=1)
    bottom = jnp.concatenate([_diag(c), _diag(d)], axis=1)
    return jnp.concatenate([top, bottom], axis=0)


def _diag(d: Float[Array, n * batch]) -> Float[Array, "n n *batch"]:
    """The diagonal matrix of ``d`` (per batch entry), ``[n, n, *batch]``."""
    n = d.shape[0]
    eye = jnp.eye(n, dtype=d.dtype).reshape((n, n) + (1,) * (d.ndim - 1))
    return eye * d[None]


def gaussian_logpdf(innov: Float[Array, 4], S: Float[Array, "4 4"]) -> Float[Array, ""]:
    """``log N(innov; 0, S)`` through the Cholesky factor of ``S`` (no inverse)."""
    L = _chol4(S)
    y = _tri_solve_lower(L, innov[:, None])[:, 0]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.stack([L[0][0], L[1][1], L[2][2], L[3][3]])))
    return -0.5 * (jnp.sum(y * y) + logdet + 4.0 * jnp.log(2.0 * jnp.pi).astype(innov.dtype))


def _chol4(S: Float[Array, "4 4 *batch"]):
    """Lower Cholesky factor of a 4×4 SPD matrix, unrolled (rows of scalars).

    Unrolling beats ``jnp.linalg.cholesky`` by a wide margin for tiny matrices under ``vmap``
    (it becomes a handful of elementwise ops over the track axis).
    """
    l00 = jnp.sqrt(S[0, 0])
    l10 = S[1, 0] / l00
    l20 = S[2, 0] / l00
    l30 = S[3, 0] / l00
    l11 = jnp.sqrt(S[1, 1] - l10 * l10)
    l21 = (S[2, 1] - l20 * l10) / l11
    l31 = (S[3, 1] - l30 * l10) / l11
    l22 = jnp.sqrt(S[2, 2] - l20 * l20 - l21 * l21)
    l32 = (S[3, 2] - l30 * l20 - l31 * l21) / l22
    l33 = jnp.sqrt(S[3, 3] - l30 * l30 - l31 * l31 - l32 * l32)
    return ((l00,), (l10, l11), (l20, l21, l22), (l30, l31, l32, l33))


def _tri_solve_lower(L, b: Float[Array, 4 * n]) -> Float[Array, 4 * n]:
    y0 = b[0] / L[0][0]
    y1 = (b[1] - L[1][0] * y0) / L[1][1]
    y2 = (b[2] - L[2][0] * y0 - L[2][1] * y1) / L[2][2]
    y3 = (b[3] - L[3][0] * y0 - L[3][1] * y1 - L[3][2] * y2) / L[3][3]
    return jnp.stack([y0, y1, y2, y3])


def _chol4_solve(L, b: Float[Array, 4 * n]) -> Float[Array, 4 * n]:
    """Solve ``L Lᵀ x = b`` by forward then backward substitution."""
    y = _tri_solve_lower(L, b)
    x3 = y[3] / L[3][3]
    x2 = (y[2] - L[3][2] * x3) / L[2][2]
    x1 = (y[1] - L[2][1] * x2 - L[3][1] * x3) / L[1][1]
    x0 = (y[0] - L[1][0] * x1 - L[2][0] * x2 - L[3][0] * x3) / L[0][0]
    return jnp.stack([x0, x1, x2, x3])


__all__ = [
    "MIN_NOISE_SCALE",
    "blocks_to_cov",
    "kf_initiate_blocks",
    "kf_predict_blocks",
    "kf_update_blocks",
    "gaussian_logpdf",
    "kf_box",
    "kf_initiate",
    "kf_innovation",
    "kf_predict",
    "kf_update",
    "measure",
    "motion_matrices",
]
