"""Calibrated motion: fit the Kalman noise model to box tracks by maximum likelihood.

The tracker's constant-velocity Kalman filter (``samurai_core.kalman``) has noise weights
(``NoiseParams``) tuned for generic tracking benchmarks. On other data — a heart chamber whose box
beats at 1 Hz and hardly moves — better weights give better one-step predictions, and so a better
motion term in SAMURAI's mask score. This module fits them on example box tracks.

For one sequence of boxes ``z_0..z_{T-1}`` (some possibly absent) the filter starts at the first
present box and, for every later present box, scores the innovation of the one-step prediction:

    log p(z_1.. | z_0) = Σ_t log N(z_t − H x_{t|t-1}; 0, S_t),   S_t = H P_{t|t-1} Hᵀ + R

(``lax.scan`` over frames; absent boxes are coasted through on ``predict`` alone). The fit
minimises the mean negative log-likelihood per scored frame over a batch of sequences of any
lengths (padded to one shape, vmapped, one compile) with optax's Adam on the logarithm of the
free weights, which keeps them positive.

Free fields per motion model (``FREE_FIELDS``): every weight that the motion model uses —
"xyah" uses all eight ``NoiseParams`` fields (the three aspect-ratio weights included);
"xywh" and "xyxy" have no aspect ratio and fit ``std_position``, ``std_size``, ``std_velocity``,
``std_size_velocity`` and ``std_measurement``; their aspect fields keep the ``init`` values.

The fitted weights are Python floats: they drop straight into ``SamuraiConfig(noise=...)``
(``config_with_noise``). ``calibration_to_dict`` / ``calibration_from_dict`` give and check the
content of a calibration file; the app reads and writes the file itself
(``samurai.io.save_calibration`` / ``load_calibration``), so the core does no file I/O.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import ArrayLike, Bool, Float

from samurai_core.boxes import box_iou, box_valid
from samurai_core.config import SamuraiConfig
from samurai_core.kalman import kf_box, kf_initiate, measure, motion_matrices
from samurai_core.motion_models import MOTION_MODELS, check_motion_model
from samurai_core.types import AnyArray, Array, NoiseParams

_NON_ASPECT = ("std_position", "std_size", "std_velocity", "std_size_velocity", "std_measurement")
FREE_FIELDS: dict[str, tuple[str, ...]] = {
    "xyah": NoiseParams._fields,
    "xywh": _NON_ASPECT,
    "xyxy": _NON_ASPECT,
}

DEFAULT_STEPS = 200
DEFAULT_LEARNING_RATE = 0.1
# Stop early once the loss changes by less than rtol (relative) on this many steps in a row.
_PATIENCE = 10
# A log-weight this far below its start (a weight 10^6 times smaller) means the fit runs away
# towards zero noise: the data cannot identify that weight.
_RUNAWAY = -math.log(1e6)

FORMAT = "samurai-noise"
FORMAT_VERSION = 1


class FilterOutput(NamedTuple):
    """Per-frame results of running the filter over one sequence."""

    loglik: Float[Array, " T"]  # log N(innovation; 0, S) on scored frames, 0 elsewhere
    scored: Bool[Array, " T"]  # a present box after the first one: it was predicted, then seen
    pred_box: Float[Array, "T 4"]  # one-step-ahead prediction (xyxy) before the update; 0 before the start


class FitHistory(NamedTuple):
    """What ``fit_noise`` did."""

    nll: np.ndarray  # mean NLL per scored frame before each Adam step
    nll_before: float  # at ``init``
    nll_after: float  # at the returned parameters (the lowest seen)
    steps: int  # Adam steps taken
    converged: bool  # stopped early on the relative-change criterion
    free: tuple[str, ...]  # the fitted NoiseParams fields
    n_sequences: int
    n_frames: int  # scored frames (the likelihood's terms)


class MotionScore(NamedTuple):
    """How well a noise model predicts a set of tracks (see ``score_noise``)."""

    nll_per_frame: float  # mean negative log-likelihood per scored frame
    prediction_iou: float  # mean IoU of the one-step-ahead prediction with the next present box
    n_frames: int  # scored frames


class Calibration(NamedTuple):
    """A fitted noise model and where it came from (the content of a calibration file)."""

    motion_model: str
    noise: NoiseParams
    provenance: dict[str, Any]


def _diagonal_noise(motion_model: str, noise: NoiseParams, p, v):
    """Process variances (positions[4], rates[4]) and measurement variances[4] at mean [p, v]."""
    _, _, q, r = motion_matrices(motion_model, noise, jnp.concatenate([p, v]))
    q = jnp.diagonal(q)
    return q[:4], q[4:], jnp.diagonal(r)


def filter_sequence(
    motion_model: str,
    noise: NoiseParams,
    boxes: Float[AnyArray, "T 4"],
    valid: Bool[AnyArray, " T"],
) -> FilterOutput:
    """Run the Kalman filter over ONE sequence (``jax.vmap`` it over sequences).

    The filter starts (``kf_initiate``) at the first present box; on each later frame it
    predicts, and if the box is present scores ``log N(z − H x⁻; 0, S)`` and updates. Absent
    frames (``valid`` False, or a non-finite / empty box) are coasted through; padding at the end
    therefore changes nothing. Absent boxes never enter the arithmetic (they are replaced by a
    finite stand-in whose results are discarded), so gradients stay finite.

    This is the core's filter (``samurai_core.kalman``) written per coordinate: its ``Q``, ``R``
    and initial ``P`` are diagonal and ``F`` only couples each coordinate with its own rate, so
    ``P`` stays block-diagonal — four independent 2×2 blocks ``[[P_pp, P_pv], [P_pv, P_vv]]``
    and a diagonal ``S``. Carrying those 12 numbers instead of the dense 8×8 ``P`` makes the
    fit's forward and backward passes several times cheaper; the tests check it against the
    dense kernels and a NumPy loop.

    Args:
        motion_model: "xyah", "xywh" or "xyxy" (static).
        noise: noise weights; floats or traced scalars (differentiable).
        boxes: ``[T, 4]`` xyxy boxes in pixels.
        valid: ``[T]`` True where the box is present.

    Returns:
        ``FilterOutput`` with per-frame log-likelihood, scored mask and predicted boxes.
    """
    boxes = jnp.asarray(boxes)
    valid = jnp.asarray(valid) & box_valid(boxes)
    stand_in = jnp.where(
        jnp.any(valid), boxes[jnp.argmax(valid)], jnp.asarray([0.0, 0.0, 1.0, 1.0], boxes.dtype)
    )
    boxes = jnp.where(valid[:, None], boxes, stand_in)
    z_all = jax.vmap(lambda box: measure(motion_model, box))(boxes)
    start_mean, start_cov = kf_initiate(motion_model, noise, stand_in)
    start_var = jnp.diagonal(start_cov)
    start = (start_mean[:4], start_mean[4:], start_var[:4], jnp.zeros(4, boxes.dtype), start_var[4:])
    log_2pi = jnp.log(2.0 * jnp.pi).astype(boxes.dtype)

    def frame(carry, inputs):
        (p, v, pp, pv, vv), started = carry
        z, present = inputs
        # Predict: per coordinate, [p, v] <- [p + v, v], P <- F P Fᵀ + Q (Q from the prior mean).
        q_p, q_v, _ = _diagonal_noise(motion_model, noise, p, v)
        p1, pp1, pv1, vv1 = p + v, pp + 2.0 * pv + vv + q_p, pv + vv, vv + q_v
        # Innovation (R from the predicted mean): y = z - p, s = P_pp + R, S diagonal.
        _, _, r = _diagonal_noise(motion_model, noise, p1, v)
        y = z - p1
        s = pp1 + r
        loglik = -0.5 * jnp.sum(y * y / s + jnp.log(s) + log_2pi)
        # Update: K = [P_pp, P_pv] / s, P <- P - K s Kᵀ.
        k_p, k_v = pp1 / s, pv1 / s
        updated = (p1 + k_p * y, v + k_v * y, pp1 - k_p * pp1, pv1 - k_p * pv1, vv1 - k_v * pv1)
        predicted = (p1, v, pp1, pv1, vv1)
        # Before the start the carry is the track initiated at the first present box.
        new = jax.tree.map(
            lambda u, pr, old: jnp.where(started, jnp.where(present, u, pr), old),
            updated,
            predicted,
            (p, v, pp, pv, vv),
        )
        scored = started & present
        out = (
            jnp.where(scored, loglik, 0.0),
            scored,
            jnp.where(started, kf_box(motion_model, jnp.concatenate([p1, v])), 0.0),
        )
        return (new, started | present), out

    _, (loglik, scored, pred_box) = jax.lax.scan(frame, (start, jnp.zeros((), bool)), (z_all, valid))
    return FilterOutput(loglik, scored, pred_box)


def mean_nll(
    motion_model: str,
    noise: NoiseParams,
    boxes: Float[AnyArray, "N T 4"],
    valid: Bool[AnyArray, "N T"],
) -> Float[Array, ""]:
    """Mean negative log-likelihood per scored frame over a padded batch of sequences.

    This is the loss ``fit_noise`` minimises; differentiable in the ``noise`` fields.
    """
    out = jax.vmap(lambda b, v: filter_sequence(motion_model, noise, b, v))(boxes, valid)
    n = jnp.maximum(jnp.sum(out.scored), 1)
    return -jnp.sum(out.loglik) / n


def noise_from_log(log_noise: Float[Array, " 8"]) -> NoiseParams:
    """``NoiseParams`` from the log of every field (in ``NoiseParams._fields`` order)."""
    return NoiseParams(*jnp.exp(log_noise))


def pad_tracks(
    tracks: Sequence[AnyArray],
    valid: Sequence[AnyArray] | None = None,
    length: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stack tracks of different lengths into ``boxes float32[N, T, 4]`` and ``valid bool[N, T]``.

    Padded frames are NaN boxes with ``valid`` False. ``valid`` per track defaults to the boxes
    being finite with positive size. ``length`` defaults to the longest track.

    >>> boxes, valid = pad_tracks([np.ones((3, 4)) * [0, 0, 5, 5], np.ones((5, 4)) * [1, 1, 4, 4]])
    >>> boxes.shape, valid.sum(axis=1).tolist()
    ((2, 5, 4), [3, 5])
    """
    if len(tracks) == 0:
        raise ValueError("pad_tracks got no tracks; pass at least one [T, 4] array")
    arrays = [np.asarray(t, np.float32) for t in tracks]
    for i, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[1] != 4:
            raise ValueError(f"track {i} has shape {a.shape}; each track must be [T, 4] xyxy boxes")
    if valid is not None and len(valid) != len(arrays):
        raise ValueError(f"got {len(arrays)} tracks but {len(valid)} valid masks; pass one per track")
    t_max = max(len(a) for a in arrays) if length is None else length
    boxes = np.full((len(arrays), t_max, 4), np.nan, np.float32)
    mask = np.zeros((len(arrays), t_max), bool)
    for i, a in enumerate(arrays):
        if len(a) > t_max:
            raise ValueError(f"track {i} has {len(a)} frames, more than length={t_max}")
        boxes[i, : len(a)] = a
        ok = np.asarray(box_valid(a)) if valid is None else np.asarray(valid[i], bool)
        if ok.shape != (len(a),):
            raise ValueError(f"valid mask {i} has shape {ok.shape}; expected ({len(a)},)")
        mask[i, : len(a)] = ok
    return boxes, mask


def _check_batch(boxes, valid) -> tuple[jnp.ndarray, jnp.ndarray]:
    boxes = np.asarray(boxes)
    valid = np.asarray(valid)
    if boxes.ndim != 3 or boxes.shape[2] != 4:
        raise ValueError(
            f"boxes has shape {boxes.shape}; expected [N, T, 4] xyxy boxes "
            "(use pad_tracks to stack tracks of different lengths)"
        )
    if valid.shape != boxes.shape[:2]:
        raise ValueError(f"valid has shape {valid.shape}; expected {boxes.shape[:2]} to match boxes")
    if valid.dtype != bool:
        raise ValueError(f"valid has dtype {valid.dtype}; expected bool")
    # float64 only where asked for (boxes in float64 and x64 enabled): the default float otherwise.
    dtype = jnp.result_type(float) if boxes.dtype == np.float64 else jnp.float32
    return jnp.asarray(boxes, dtype), jnp.asarray(valid)


def _check_noise(noise: NoiseParams, what: str) -> NoiseParams:
    values = []
    for name, value in zip(NoiseParams._fields, noise):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}.{name}={value!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{what}.{name}={value} must be a finite positive number")
        values.append(value)
    return NoiseParams(*values)


@functools.lru_cache(maxsize=32)
def _fit_functions(motion_model: str, free_mask: tuple[bool, ...], learning_rate: float):
    optimizer = optax.adam(learning_rate)
    mask = np.asarray(free_mask)

    def loss(log_noise, boxes, valid):
        return mean_nll(motion_model, noise_from_log(log_noise), boxes, valid)

    @jax.jit
    def step(log_noise, opt_state, boxes, valid):
        nll, grad = jax.value_and_grad(loss)(log_noise, boxes, valid)
        grad = jnp.where(mask, grad, 0.0)  # fixed fields: zero gradient, so Adam leaves them be
        updates, opt_state = optimizer.update(grad, opt_state, log_noise)
        return optax.apply_updates(log_noise, updates), opt_state, nll

    return optimizer, step, jax.jit(loss)


def fit_noise(
    # User-facing: validated by _check_batch with a message that names the fix (shapes in the
    # docstring); the shape-typed kernels it calls are checked at runtime in the tests.
    boxes: ArrayLike,
    valid: ArrayLike,
    motion_model: str = "xyah",
    init: NoiseParams = NoiseParams(),
    steps: int = DEFAULT_STEPS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    *,
    free: Sequence[str] | None = None,
    rtol: float = 1e-6,
) -> tuple[NoiseParams, FitHistory]:
    """Fit the noise weights by maximum likelihood over a batch of box tracks.

    Minimises ``mean_nll`` (mean innovation NLL per scored frame) with Adam on the log of the
    ``free`` fields (default ``FREE_FIELDS[motion_model]``), starting from ``init``; the other
    fields keep their ``init`` values. Runs ``steps`` Adam steps, or stops early once the loss's
    relative change stays below ``rtol`` for 10 steps in a row. All sequences go through one
    vmapped, jitted step: pad tracks of different lengths with ``pad_tracks`` (one compile per
    ``[N, T]`` shape and settings).

    Args:
        boxes: ``[N, T, 4]`` xyxy boxes in pixels (NaN where padded or absent).
        valid: ``[N, T]`` True where a box is present.
        motion_model: "xyah", "xywh" or "xyxy".
        init: starting weights (all finite and positive).
        steps: maximum number of Adam steps.
        learning_rate: Adam step size, in log-weight units.
        free: the fields to fit (default: every field the motion model uses).
        rtol: relative change of the loss below which the fit counts as converged.

    Returns:
        ``(noise, history)``: the weights with the lowest loss seen, as Python floats (ready
        for ``SamuraiConfig``), and a ``FitHistory``.

    >>> from samurai_core.simulate import simulate_cardiac_tracks
    >>> boxes, valid = simulate_cardiac_tracks(8, 60)
    >>> noise, hist = fit_noise(boxes, valid, steps=20)
    >>> hist.nll_after < hist.nll_before
    True
    """
    check_motion_model(motion_model)
    init = _check_noise(init, "init")
    free = FREE_FIELDS[motion_model] if free is None else tuple(free)
    unknown = sorted(set(free) - set(NoiseParams._fields))
    if unknown:
        raise ValueError(f"free fields {unknown} are not NoiseParams fields {NoiseParams._fields}")
    if steps < 0:
        raise ValueError(f"steps={steps} must be >= 0")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate={learning_rate} must be a finite positive number")
    boxes, valid = _check_batch(boxes, valid)
    present = np.asarray(valid & box_valid(boxes)).sum(axis=1)
    n_frames = int(np.maximum(present - 1, 0).sum())  # every present box after the first
    if n_frames == 0:
        raise ValueError(
            "no track has two present boxes, so there is nothing to predict; give tracks with "
            "at least two valid frames"
        )
    if 4 * n_frames < len(free):
        # Each predicted box gives 4 numbers; fewer numbers than weights leave the likelihood
        # without a maximum (it grows as some weight shrinks to zero), so the fit diverges.
        raise ValueError(
            f"{n_frames} predicted box(es) (each present box after a track's first) give "
            f"{4 * n_frames} numbers, too few to identify the {len(free)} noise weights of "
            f"{motion_model}; give longer or more tracks (at least "
            f"{-(-len(free) // 4) + 1} boxes in one track)"
        )

    free_mask = tuple(name in free for name in NoiseParams._fields)
    optimizer, step, loss = _fit_functions(motion_model, free_mask, float(learning_rate))
    log_noise = jnp.log(jnp.asarray(init, boxes.dtype))
    opt_state = optimizer.init(log_noise)
    best = (math.inf, log_noise)
    history: list[float] = []
    calm = 0
    for i in range(steps):
        new_log_noise, opt_state, nll = step(log_noise, opt_state, boxes, valid)
        nll = float(nll)
        if not math.isfinite(nll):
            shrunk = [
                name
                for name, v, v0 in zip(NoiseParams._fields, np.asarray(log_noise), np.log(init))
                if v - v0 < _RUNAWAY
            ]
            if shrunk:
                raise FloatingPointError(
                    f"the fit diverged at step {i}: the likelihood grows without bound as "
                    f"{', '.join(shrunk)} shrink(s) towards zero, i.e. the tracks do not vary "
                    "enough to identify the noise (e.g. a box side that never changes, or too "
                    f"few frames: {n_frames}); give longer tracks with real motion, or more tracks"
                )
            raise FloatingPointError(
                f"the NLL became {nll} at step {i}; lower learning_rate (now {learning_rate}) or "
                "check the tracks for outliers"
            )
        if nll < best[0]:
            best = (nll, log_noise)
        if history and abs(history[-1] - nll) <= rtol * max(abs(nll), 1.0):
            calm += 1
        else:
            calm = 0
        history.append(nll)
        log_noise = new_log_noise
        if calm >= _PATIENCE:
            break
    final = float(loss(log_noise, boxes, valid))
    if final < best[0]:
        best = (final, log_noise)
    nll_before = history[0] if history else final
    fitted = NoiseParams(*(float(v) for v in np.exp(np.asarray(best[1], np.float64))))
    return fitted, FitHistory(
        nll=np.asarray(history),
        nll_before=nll_before,
        nll_after=best[0],
        steps=len(history),
        converged=calm >= _PATIENCE,
        free=free,
        n_sequences=int(boxes.shape[0]),
        n_frames=n_frames,
    )


@functools.partial(jax.jit, static_argnums=0)
def _score(motion_model, noise, boxes, valid):
    out = jax.vmap(lambda b, v: filter_sequence(motion_model, noise, b, v))(boxes, valid)
    iou = box_iou(out.pred_box, jnp.where(out.scored[..., None], boxes, 0.0))
    n = jnp.sum(out.scored)
    safe_n = jnp.maximum(n, 1)
    return -jnp.sum(out.loglik) / safe_n, jnp.sum(jnp.where(out.scored, iou, 0.0)) / safe_n, n


def score_noise(
    motion_model: str,
    noise: NoiseParams,
    boxes: ArrayLike,  # [N, T, 4], validated by _check_batch
    valid: ArrayLike,  # [N, T]
) -> MotionScore:
    """Mean NLL per frame and mean one-step-ahead prediction IoU of a noise model on tracks.

    The prediction IoU compares, on every scored frame, the filter's predicted box (before it
    sees the frame) with the frame's box: how well the motion term of SAMURAI's mask score would
    point at the right candidate.
    """
    check_motion_model(motion_model)
    noise = _check_noise(noise, "noise")
    boxes, valid = _check_batch(boxes, valid)
    nll, iou, n = _score(motion_model, noise, boxes, valid)
    return MotionScore(float(nll), float(iou), int(n))


# ---- calibration records (the app reads and writes the files: samurai.io) -----------------


def calibration_to_dict(calibration: Calibration) -> dict[str, Any]:
    """The JSON-ready content of a calibration file: format tag, motion model, the eight
    weights, provenance. Raises ``ValueError`` for an unknown model or a bad weight.

    >>> d = calibration_to_dict(Calibration("xyah", NoiseParams(), {"data": "example"}))
    >>> calibration_from_dict(d).noise == NoiseParams()
    True
    """
    check_motion_model(calibration.motion_model)
    noise = _check_noise(calibration.noise, "noise")
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "motion_model": calibration.motion_model,
        "noise": noise._asdict(),
        "provenance": dict(calibration.provenance),
    }


def calibration_from_dict(data: Any, source: str = "calibration") -> Calibration:
    """Check and read the content of a calibration file (``calibration_to_dict``'s output).

    Raises ``ValueError`` naming ``source`` (e.g. the file) and the problem.
    """
    fix = "re-run `samurai calibrate` to write it again"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f'{source} is not a samurai noise calibration (no "format": "{FORMAT}"); {fix}')
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{source} has format version {data.get('version')!r}; this samurai reads version "
            f"{FORMAT_VERSION}; {fix}"
        )
    model = data.get("motion_model")
    if model not in MOTION_MODELS:
        raise ValueError(f"{source}: motion_model={model!r} is not one of {MOTION_MODELS}; {fix}")
    noise = data.get("noise")
    if not isinstance(noise, dict):
        raise ValueError(f'{source}: "noise" must be an object with the fields {NoiseParams._fields}')
    missing = [f for f in NoiseParams._fields if f not in noise]
    extra = sorted(set(noise) - set(NoiseParams._fields))
    if missing or extra:
        raise ValueError(
            f'{source}: "noise" is missing {missing} / has unknown {extra}; it needs exactly '
            f"{NoiseParams._fields}"
        )
    values = []
    for name in NoiseParams._fields:
        v = noise[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"{source}: noise.{name}={v!r} must be a finite positive number")
        values.append(float(v))
    provenance = data.get("provenance", {})
    if not isinstance(provenance, dict):
        raise ValueError(f'{source}: "provenance" must be an object')
    return Calibration(model, NoiseParams(*values), provenance)


def config_with_noise(cfg: SamuraiConfig, source: Any) -> SamuraiConfig:
    """``cfg`` with its noise weights replaced by fitted ones (from params or a Calibration;
    read a calibration file with ``samurai.io.load_calibration``).

    ``source`` is typed ``Any`` on purpose: a path passed by habit gets this function's own
    message (which names the reader to use), not a generic type-check error.

    A calibration carries its motion model: it must match ``cfg.motion_model`` (the weights mean
    different things in different models).

    >>> from samurai_core.config import preset
    >>> cfg = config_with_noise(preset("tiny"), NoiseParams(std_measurement=0.01))
    >>> cfg.noise.std_measurement
    0.01
    """
    if isinstance(source, NoiseParams):
        noise = _check_noise(source, "noise")
    else:
        if not isinstance(source, Calibration):
            raise TypeError(
                f"config_with_noise takes NoiseParams or a Calibration, not "
                f"{type(source).__name__}; read a file with samurai.io.load_calibration(path)"
            )
        cal = source
        if cal.motion_model != cfg.motion_model:
            raise ValueError(
                f"the calibration was fitted for motion_model={cal.motion_model!r} but the config "
                f"uses {cfg.motion_model!r}; set motion_model={cal.motion_model!r} in the config "
                f"or calibrate again with --motion-model {cfg.motion_model}"
            )
        noise = _check_noise(cal.noise, "noise")
    return cfg._replace(noise=noise).validate()


__all__ = [
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_STEPS",
    "FREE_FIELDS",
    "Calibration",
    "FilterOutput",
    "FitHistory",
    "MotionScore",
    "calibration_from_dict",
    "calibration_to_dict",
    "config_with_noise",
    "filter_sequence",
    "fit_noise",
    "mean_nll",
    "noise_from_log",
    "pad_tracks",
    "score_noise",
]
