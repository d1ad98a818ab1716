"""The CUDA path rehearsed on the CPU, so that a GPU lent for a few minutes measures instead of
debugging: bfloat16 autocast through the predictor's own ``_autocast`` (the CPU added to
``autocast_device_types``), on the per-object loop and the batched path, against float32 (sam2's
loop, the reference); and ``scripts/gpu_bench.sh`` run whole in its rehearsal mode (every step,
every case, every result file it promises)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from batched_scene import scene_frames  # noqa: E402

from samurai_sam2 import build_samurai_video_predictor  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BOXES = {1: [12, 14, 36, 34], 2: [90, 58, 110, 82], 3: [55, 19, 73, 37], 4: [92, 12, 108, 28]}


def test_bf16_autocast_rehearsed_on_cpu_batched_and_looped(single_torch_thread):
    torch.manual_seed(0)
    pred = build_samurai_video_predictor("tiny", None, device="cpu", image_size=128)
    frames = scene_frames()[:8]
    seen = []
    pred.sam_mask_decoder.register_forward_hook(lambda m, a, out: seen.append(out[0].dtype))

    def run(batched: bool, bf16: bool):
        pred.batch_objects = batched
        pred.autocast_device_types = ("cuda", "cpu") if bf16 else ("cuda",)
        state = pred.init_state(frames)
        for obj_id, box in BOXES.items():
            pred.add_new_points_or_box(state, 0, obj_id, box=box)
        seen.clear()
        masks = torch.stack([m.float().clone() for _, _, m in pred.propagate_in_video(state)])
        return masks, set(seen)

    assert pred.bf16_on_cuda  # the default: bf16 where the device type allows it
    reference, dtypes = run(batched=False, bf16=False)
    assert dtypes == {torch.float32}  # users' CPU runs stay float32
    scale = reference.abs().max().item()
    for batched in (False, True):
        masks, dtypes = run(batched, bf16=True)
        assert torch.bfloat16 in dtypes  # the autocast acted on the model
        assert torch.isfinite(masks).all()
        # bfloat16 keeps ~3 significant digits: logits near float32's, masks nearly the same
        assert (masks - reference).abs().max().item() <= 0.05 * scale
        assert ((masks > 0) == (reference > 0)).float().mean().item() >= 0.99


def test_gpu_bench_script_rehearsal(tmp_path):
    """``scripts/gpu_bench.sh`` end to end on the CPU (``SAMURAI_GPU_REHEARSAL=1``): every step
    runs, each writes the JSON it promises, and every case reports its figures."""
    out = tmp_path / "out"
    env = dict(os.environ, SAMURAI_GPU_REHEARSAL="1", PYTHON=sys.executable, OUT=str(out))
    proc = subprocess.run(
        ["bash", "scripts/gpu_bench.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "all steps done" in proc.stdout
    assert "torch " in (out / "gpu.txt").read_text() and "rehearsal" in (out / "gpu.txt").read_text()

    def cases(name: str) -> dict[str, dict]:
        data = json.loads((out / f"{name}.json").read_text())
        return {b["name"]: b["extra_info"] for b in data["benchmarks"]}

    for name, compiled in (("bench_batched_eager", False), ("bench_batched_compiled", True)):
        got = cases(name)
        mode = "compiled" if compiled else "eager"
        assert set(got) == {f"test_cuda_objects_per_frame[bf16-{mode}-128]"}  # bf16: the CUDA path
        for info in got.values():
            assert info["device"] == "cpu (rehearsal)" and info["compiled"] is compiled
            fps = [info[f"{case}_fps"] for case in ("1obj_batched", "4obj_batched", "4obj_loop")]
            assert all(math.isfinite(v) and v > 0 for v in fps)
            assert np.isclose(info["ratio_4_to_1_batched"], fps[0] / fps[1])
            assert (info["compile_s"] > 0) is compiled  # compile time reported apart
            assert info["recompile_limit_hits"] == []  # compiled throughout, when compiled
    backend = cases("bench_backend_gpu")
    assert set(backend) == {f"test_cuda_frame_time[{n}]" for n in (1, 3)}
    for info in backend.values():
        assert info["samurai_ms_per_frame"] > 0 and info["vanilla_ms_per_frame"] > 0
    summary = (out / "summary.txt").read_text().splitlines()
    assert len(summary) == 4  # one line per case of the three steps


def test_recompile_limit_watch_sees_torch_compile_give_up(monkeypatch):
    """The benchmark's watch counts the functions torch.compile stopped compiling (past its
    recompile limit, where it runs them eagerly and says so only in a log warning)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from gpu_target import RecompileLimitWatch

    def scale(x, k):
        return x * k

    torch._dynamo.reset()
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 1)
    compiled = torch.compile(scale, backend="eager", dynamic=False)
    with RecompileLimitWatch() as watch:
        compiled(torch.ones(2), 2.0)
        assert watch.functions == []
        compiled(torch.ones(2, dtype=torch.float64), 3.0)  # a second version: over the limit
    torch._dynamo.reset()
    assert len(watch.functions) == 1 and "scale" in watch.functions[0]
