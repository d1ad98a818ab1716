"""One training step (forward + backward + AdamW) on an echo clip: LoRA (r=8 on the 40 default
modules) vs full fine-tuning of the same 40 Linear layers. Random-init hiera-tiny at 256 px on
CPU (CUDA when available), a 4-frame clip with 2 objects (LV, myocardium).

Memory of a step, counted exactly (``extra_info``): tensors saved for backward that are not
parameters, gradients, and AdamW state; on CUDA also ``torch.cuda.max_memory_allocated``.

    python -m pytest benchmarks/bench_train.py -p no:cacheprovider --benchmark-only -o python_files='bench_*.py'
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from samurai.data import EchoCase  # noqa: E402
from samurai.data.synthetic import phantom_sequence  # noqa: E402
from samurai.train.clips import make_clip  # noqa: E402
from samurai.train.loop import clip_forward  # noqa: E402
from samurai.train.lora import DEFAULT_TARGETS, apply_lora, trainable_parameters  # noqa: E402
from samurai.train.model import build_model  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# One torch thread by default: on the shared 2-core dev box two threads spin-wait on each
# other and run 3-5x slower (measured). Override with SAMURAI_BENCH_THREADS.
THREADS = int(os.environ.get("SAMURAI_BENCH_THREADS", "1"))


@pytest.fixture(scope="module")
def base_model():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    return build_model("tiny", None, DEVICE, 256)


@pytest.fixture(scope="module")
def clip():
    frames, masks = phantom_sequence(4, (112, 112), np.random.default_rng(0))
    case = EchoCase("bench", frames, masks, np.ones(4, bool), {1: "LV", 2: "MYO", 3: "LA"})
    return make_clip(case, [0, 1, 2, 3], 256, max_objects=2)


def _full_finetune(model):
    """Train the 40 target Linear layers themselves (weights and biases), everything else frozen."""
    model.requires_grad_(False)
    modules = dict(model.named_modules())
    for name in DEFAULT_TARGETS:
        modules[name].requires_grad_(True)
    return model


def _mib(nbytes: int) -> float:
    return round(nbytes / 2**20, 2)


def _step_memory(model, params, optimizer, step) -> dict:
    """Memory a training step adds on top of the frozen model, counted exactly: tensors saved
    for backward (unique storages that are not parameters), gradients and AdamW state."""
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in param_storages:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    grads = sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    state = sum(
        t.numel() * t.element_size()
        for s in optimizer.state.values()
        for t in s.values()
        if torch.is_tensor(t)
    )
    return {
        "saved_activations_mib": _mib(sum(saved.values())),
        "grads_mib": _mib(grads),
        "optimizer_state_mib": _mib(state),
        "step_total_mib": _mib(sum(saved.values()) + grads + state),
    }


def _bench_step(benchmark, model, clip):
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss, _, _ = clip_forward(model, clip)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        optimizer.step()
        if DEVICE == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up, and optimizer state allocated outside the timed region
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    memory = _step_memory(model, params, optimizer, step)
    if DEVICE == "cuda":
        memory["cuda_peak_allocated_mib"] = _mib(torch.cuda.max_memory_allocated())
    benchmark.extra_info.update(
        device=DEVICE,
        threads=torch.get_num_threads(),
        trainable_parameters=trainable_parameters(model)[0],
        **memory,
    )
    benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=0)


def test_step_lora(benchmark, base_model, clip):
    model = copy.deepcopy(base_model)
    apply_lora(model)
    _bench_step(benchmark, model, clip)


def test_step_full_finetune_same_modules(benchmark, base_model, clip):
    model = _full_finetune(copy.deepcopy(base_model))
    _bench_step(benchmark, model, clip)
