"""Where the GPU benchmarks run: on CUDA, or, with ``SAMURAI_GPU_REHEARSAL=1``, on the CPU as
a rehearsal of ``scripts/gpu_bench.sh``.

No GPU is at hand while the project is developed, and one lent for a few minutes must not be
spent finding a typo. The rehearsal runs the GPU benchmarks' own code on the CPU, small: 128 px
instead of 512 / 1024, 4 frames of 128 × 96 instead of 24 of 640 × 480, the bfloat16 cases
only, through the CPU's autocast (the predictor's ``autocast_device_types``), ``torch.compile``
with its "eager" backend (the modules are traced, no code is generated), no peak-memory figure.
Its timings mean nothing; it proves that every case runs and that its results land where the
script says.
"""

from __future__ import annotations

import logging
import os
import re

import pytest

torch = pytest.importorskip("torch")

REHEARSAL = os.environ.get("SAMURAI_GPU_REHEARSAL", "") == "1"


def image_sizes(sizes: list[int]) -> list[int]:
    """The image sizes a GPU benchmark is parametrized with (one small one in a rehearsal)."""
    return [128] if REHEARSAL else sizes


def bf16_settings(settings: list[bool]) -> list[bool]:
    """The bf16 on/off settings a GPU benchmark is parametrized with (bf16 only in a rehearsal:
    float32 is the CPU's everyday path, tested throughout the suite)."""
    return [True] if REHEARSAL else settings


def clip_shape(num_frames: int, height: int, width: int) -> tuple[int, int, int]:
    """Frames, height and width of a GPU benchmark's clip (4 of 128 × 96 in a rehearsal)."""
    return (4, 96, 128) if REHEARSAL else (num_frames, height, width)


def device() -> str:
    """``"cuda"``, ``"cpu"`` in a rehearsal; skips the benchmark when neither applies."""
    if REHEARSAL:
        return "cpu"
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (or SAMURAI_GPU_REHEARSAL=1 for a rehearsal on the CPU)")
    return "cuda"


def prepare(predictor) -> None:
    """Lets the predictor's bfloat16 autocast act on the CPU in a rehearsal."""
    if REHEARSAL:
        predictor.autocast_device_types = ("cuda", "cpu")


def compile_backend() -> str:
    """torch.compile's backend: inductor on the GPU, "eager" in a rehearsal."""
    return "eager" if REHEARSAL else "inductor"


def device_name() -> str:
    return "cpu (rehearsal)" if REHEARSAL else torch.cuda.get_device_name()


def reset_peak_memory() -> None:
    if not REHEARSAL:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mib() -> float | None:
    """Peak GPU memory since the last reset, MiB; ``None`` in a rehearsal (not measured)."""
    return None if REHEARSAL else torch.cuda.max_memory_allocated() / 2**20


class RecompileLimitWatch(logging.Handler):
    """Counts torch.compile's "hit config.recompile_limit" warnings while attached.

    Past the limit (8 compiled versions per function, counted over the whole process: each
    precision, autocast state or memory shape that fails the earlier versions' guards adds
    one, whichever predictor made it) torch.compile runs the function eagerly without
    failing: a "compiled" figure would then be partly eager. The benchmark starts each compiled case from a clean slate
    (``torch._dynamo.reset()``) and reports this count beside its figures."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.functions: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "hit config." in message and "limit" in message:
            found = re.search(r"function: (.*)", message)
            self.functions.append(found.group(1).strip() if found else message.splitlines()[0])

    def __enter__(self):
        logging.getLogger("torch._dynamo").addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("torch._dynamo").removeHandler(self)
