"""Synthetic box tracks for calibrating and testing the motion model.

Two simulators:

- ``simulate_motion_tracks``: tracks drawn from the Kalman filter's own generative model (constant
  velocity, the motion model's noise structure), so that a fit of the noise model can be checked
  against the scales that generated the data.
- ``simulate_cardiac_tracks``: echocardiography-like chamber boxes (little translation, box size
  oscillating with the heart beat, segmentation jitter), the case calibration is meant for.

Both return ``(boxes[N, T, 4], valid[N, T])`` as NumPy arrays, boxes ``xyxy`` in pixels, ready for
``samurai_core.calibrate.fit_noise``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from samurai_core.boxes import box_valid, cxcywh_to_xyxy
from samurai_core.kalman import kf_box, kf_initiate, motion_matrices
from samurai_core.types import NoiseParams


def _sample_start_boxes(
    rng: np.random.Generator, n: int, size_range: tuple[float, float], image_size: float
) -> np.ndarray:
    h = rng.uniform(*size_range, n)
    w = h * rng.uniform(0.6, 1.4, n)
    cx = rng.uniform(0.3, 0.7, n) * image_size
    cy = rng.uniform(0.3, 0.7, n) * image_size
    return np.asarray(cxcywh_to_xyxy(np.stack([cx, cy, w, h], axis=-1)))


def simulate_motion_tracks(
    motion_model: str,
    noise: NoiseParams,
    n_tracks: int,
    length: int,
    *,
    seed: int = 0,
    size_range: tuple[float, float] = (40.0, 80.0),
    image_size: float = 512.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw box tracks from the constant-velocity model of ``motion_model`` with ``noise``.

    The first state is a random box at rest (``kf_initiate``'s mean: zero rates); then
    ``z_t = H x_t + v_t``, ``v_t ~ N(0, R(x_t))`` and ``x_{t+1} = F x_t + w_t``,
    ``w_t ~ N(0, Q(x_t))`` with ``(F, H, Q, R) = motion_matrices``.
    The noise therefore scales with the true box size, as the filter assumes it does.

    Args:
        motion_model: "xyah", "xywh" or "xyxy".
        noise: the true noise weights.
        n_tracks, length: output shape ``N, T``.
        seed: NumPy/JAX seed; the same seed gives the same tracks.
        size_range: range of the starting box height in pixels.
        image_size: starting boxes are centred in the middle 40 % of a square of this size.

    Returns:
        ``boxes float32[N, T, 4]`` (xyxy) and ``valid bool[N, T]`` (False where the noise made a
        box degenerate; rare with small noise weights).

    >>> boxes, valid = simulate_motion_tracks("xyah", NoiseParams(), 2, 5)
    >>> boxes.shape, valid.shape
    ((2, 5, 4), (2, 5))
    """
    rng = np.random.default_rng(seed)
    start = jnp.asarray(_sample_start_boxes(rng, n_tracks, size_range, image_size), jnp.float32)
    keys = jax.random.split(jax.random.PRNGKey(seed), n_tracks)
    boxes = _simulate_batch(motion_model, noise, start, keys, length)
    boxes = np.asarray(boxes, np.float32)
    return boxes, np.asarray(box_valid(boxes))


def _simulate_one(motion_model, noise, start_box, key, length):
    x0, _ = kf_initiate(motion_model, noise, start_box)

    def frame(x, k):
        f, h, q, r = motion_matrices(motion_model, noise, x)
        kz, kx = jax.random.split(k)
        z = h @ x + jnp.linalg.cholesky(r) @ jax.random.normal(kz, (4,), x.dtype)
        x_next = f @ x + jnp.linalg.cholesky(q) @ jax.random.normal(kx, (8,), x.dtype)
        # kf_box reads only the measured components of a state vector.
        box = kf_box(motion_model, jnp.concatenate([z, jnp.zeros(4, z.dtype)]))
        return x_next, box

    _, boxes = jax.lax.scan(frame, x0, jax.random.split(key, length))
    return boxes


@functools.partial(jax.jit, static_argnums=(0, 4))
def _simulate_batch(motion_model, noise, start, keys, length):
    return jax.vmap(lambda b, k: _simulate_one(motion_model, noise, b, k, length))(start, keys)


def simulate_cardiac_tracks(
    n_tracks: int,
    length: int,
    *,
    seed: int = 0,
    fps: float = 50.0,
    heart_rate_hz: tuple[float, float] = (0.8, 1.2),
    size_range: tuple[float, float] = (40.0, 80.0),
    contraction: tuple[float, float] = (0.15, 0.3),
    drift_px: float = 0.1,
    jitter_px: float = 0.5,
    missing_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Echo-like chamber boxes: the size beats at the heart rate, the centre barely moves.

    Each track has its own heart rate (uniform in ``heart_rate_hz``), phase and relative
    contraction ``A`` (uniform in ``contraction``): with ``s(t) = (1 - cos(2π f t / fps + φ)) / 2``
    the height is ``h0 (1 - A s(t))`` and the width ``w0 (1 - 0.7 A s(t))``. The centre follows a
    slow random walk (``drift_px`` per frame) and every box edge gets Gaussian segmentation jitter
    (``jitter_px``). A fraction ``missing_rate`` of frames (never the first) is marked absent.

    Returns:
        ``boxes float32[N, T, 4]`` (xyxy pixels) and ``valid bool[N, T]``.

    >>> boxes, valid = simulate_cardiac_tracks(3, 100, seed=1)
    >>> boxes.shape, bool(valid.all())
    ((3, 100, 4), True)
    """
    rng = np.random.default_rng(seed)
    shape = (n_tracks, 1)
    t = np.arange(length)[None, :]
    rate = rng.uniform(*heart_rate_hz, shape)
    phase = rng.uniform(0.0, 2 * np.pi, shape)
    amp = rng.uniform(*contraction, shape)
    h0 = rng.uniform(*size_range, shape)
    w0 = h0 * rng.uniform(0.6, 0.9, shape)
    s = 0.5 * (1.0 - np.cos(2 * np.pi * rate * t / fps + phase))
    h = h0 * (1.0 - amp * s)
    w = w0 * (1.0 - 0.7 * amp * s)
    centre = rng.uniform(150.0, 350.0, (n_tracks, 1, 2)) + np.cumsum(
        rng.normal(0.0, drift_px, (n_tracks, length, 2)), axis=1
    )
    truth = np.concatenate([centre - np.stack([w, h], -1) / 2, centre + np.stack([w, h], -1) / 2], -1)
    boxes = truth + rng.normal(0.0, jitter_px, truth.shape)
    valid = rng.uniform(size=(n_tracks, length)) >= missing_rate
    valid[:, 0] = True
    return boxes.astype(np.float32), valid


__all__ = ["simulate_cardiac_tracks", "simulate_motion_tracks"]
