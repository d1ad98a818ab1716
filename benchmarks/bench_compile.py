"""``compile=True`` on the CPU: per-frame time of the compiled SAM 2 backend against eager, and
the compilation time, reported apart (random-init hiera-tiny, 256 px, SAMURAI on, objects
batched).

Compilation time is the compiled predictor's first pass minus a later (warm) pass of the same
video; per-frame times are medians of warm passes, eager and compiled interleaved.

    python -m pytest benchmarks/bench_compile.py -p no:cacheprovider --benchmark-only -o python_files='bench_*.py' -s
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench_batched_objects import BOXES, _frames  # noqa: E402
from gpu_target import RecompileLimitWatch  # noqa: E402

from samurai_sam2 import build_samurai_video_predictor  # noqa: E402

THREADS = int(os.environ.get("SAMURAI_BENCH_THREADS", "2"))
SIZE = 256


def _pass(predictor, frames, num_objects: int) -> tuple[list[float], float]:
    state = predictor.init_state(frames)
    for k in range(num_objects):
        predictor.add_new_points_or_box(state, 0, k + 1, box=BOXES[k])
    times, start = [], time.perf_counter()
    t0 = start
    for f, _, _ in predictor.propagate_in_video(state):
        t1 = time.perf_counter()
        if f >= 2:
            times.append(t1 - t0)
        t0 = time.perf_counter()
    return times, time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex operators")
@pytest.mark.parametrize("num_objects", [1, 4])
def test_compiled_vs_eager(benchmark, num_objects):
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    eager = build_samurai_video_predictor("tiny", None, device="cpu", image_size=SIZE, batch_objects=True)
    torch.manual_seed(0)
    compiled = build_samurai_video_predictor("tiny", None, device="cpu", image_size=SIZE, batch_objects=True)
    frames = _frames(8)
    _pass(eager, frames, num_objects)  # warm-up: the core's jit, the allocator
    torch._dynamo.reset()  # the other case's compiled versions count against the limit
    compiled.compile_model()
    samples = {"eager": [], "compiled": []}

    def both():
        samples["eager"].extend(_pass(eager, frames, num_objects)[0])
        samples["compiled"].extend(_pass(compiled, frames, num_objects)[0])

    with RecompileLimitWatch() as watch:
        _, first = _pass(compiled, frames, num_objects)
        _, warm = _pass(compiled, frames, num_objects)
        benchmark.pedantic(both, rounds=2, iterations=1)
    med = {k: float(np.median(v)) for k, v in samples.items()}
    info = {
        "eager_ms": 1e3 * med["eager"],
        "compiled_ms": 1e3 * med["compiled"],
        "compiled_over_eager": med["compiled"] / med["eager"],
        "compile_s": first - warm,
        "torch_threads": THREADS,
        "objects": num_objects,
        "recompile_limit_hits": sorted(set(watch.functions)),  # run eagerly past the limit
    }
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()))
