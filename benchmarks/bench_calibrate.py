"""Fit time of the noise calibration: 1 000 cardiac-like tracks of 100 frames.

Run: python -m pytest benchmarks/bench_calibrate.py -p no:cacheprovider --benchmark-only \
         -o python_files='bench_*.py'

- ``test_fit_step``: one Adam step (loss + gradient through the vmapped ``lax.scan`` filter +
  update), compiled outside the timed region; the compile time goes to ``extra_info``.
- ``test_fit_total``: a whole ``fit_noise`` call with the default number of steps (early stopping
  off), after a warm-up fit of the same shape so that it holds no compile.
"""

import time

import jax
import jax.numpy as jnp
import pytest

from samurai_core import calibrate
from samurai_core.simulate import simulate_cardiac_tracks
from samurai_core.types import NoiseParams

N_TRACKS, LENGTH = 1000, 100


@pytest.fixture(scope="module")
def tracks():
    boxes, valid = simulate_cardiac_tracks(N_TRACKS, LENGTH, seed=0, missing_rate=0.05)
    return jnp.asarray(boxes), jnp.asarray(valid)


@pytest.mark.parametrize("n_tracks", [100, N_TRACKS])
def test_fit_step(benchmark, tracks, n_tracks):
    boxes, valid = tracks[0][:n_tracks], tracks[1][:n_tracks]
    optimizer, step, _ = calibrate._fit_functions("xyah", (True,) * 8, calibrate.DEFAULT_LEARNING_RATE)
    log_noise = jnp.log(jnp.asarray(NoiseParams(), jnp.float32))
    opt_state = optimizer.init(log_noise)
    t0 = time.perf_counter()
    compiled = step.lower(log_noise, opt_state, boxes, valid).compile()
    benchmark.extra_info["compile_s"] = round(time.perf_counter() - t0, 2)
    benchmark.extra_info["frames"] = int(n_tracks * LENGTH)

    def one_step():
        return jax.block_until_ready(compiled(log_noise, opt_state, boxes, valid))

    benchmark.pedantic(one_step, rounds=5, iterations=1, warmup_rounds=1)


def test_fit_total(benchmark, tracks):
    boxes, valid = tracks
    calibrate.fit_noise(boxes, valid, "xyah", steps=1)  # compile outside the timed region
    result = {}

    def fit():
        result["noise"], result["history"] = calibrate.fit_noise(boxes, valid, "xyah", rtol=0.0)

    benchmark.pedantic(fit, rounds=1, iterations=1)
    history = result["history"]
    benchmark.extra_info["steps"] = history.steps
    benchmark.extra_info["nll_before"] = round(history.nll_before, 4)
    benchmark.extra_info["nll_after"] = round(history.nll_after, 4)
