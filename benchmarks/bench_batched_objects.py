"""Four objects at nearly the cost of one: the SAM 2 backend with all objects of a frame in one
pass (``batch_objects=True``) against the per-object loop (sam2's structure).

- ``test_objects_per_frame``: time per tracked frame with 1 and 4 objects, batched and looped,
  SAMURAI on, random-init hiera-tiny at 256 px on the CPU, interleaved in one process;
  ``extra_info`` holds the medians (this process's CPU time, and wall time) and the ratios
  4 objects / 1 object.
- ``test_memory_attention_grouping``: when objects' memories differ in length, memory
  attention either runs once per group of equal lengths (what the predictor does) or once for
  all objects over the longest memory (padding, with the padding masked). Timed here as 4
  calls of one object at lengths L1..L4 against one call of 4 objects at max(L): the cost of
  each choice, masking aside.
- ``test_samurai_added_cost_batched``: SAMURAI's added work per frame on the batched path
  (memory choice, boxes from one batch of candidates, host copy, core step); ≤ 0.2 ms per object.
- ``test_cuda_objects_per_frame``: on CUDA, frames/s and peak memory for 1 vs 4 objects,
  eager vs compiled, fp32 vs bf16, 512 and 1024 px, the card named (``scripts/gpu_bench.sh``).
- ``test_stage_costs``: where a frame's time goes with 4 objects, batched and looped: image
  encoder, memory attention, mask decoder, memory encoder (CPU time inside each module).
- ``test_hf_objects_per_frame``: the transformers backend (``model.batch_objects``), SAM 2
  hiera-tiny (transformers' default ``Sam2VideoConfig``) and EdgeTAM (RepViT, its released
  config; needs timm) at 256 px, random init, SAMURAI on: the same 1 vs 4 objects, batched vs
  looped, and the CPU time per frame inside each module with 4 objects.
- ``test_memory_attention_restated``: memory attention alone, 1 and 4 objects at the full
  memory, sam2's module against the restatement the batched path runs
  (``samurai_sam2/memory_attention.py``); ``test_objects_per_frame_restated``: whole batched
  frames, 1 and 4 objects, with each (the batched path before and after the restatement).
- ``test_multiply_adds_per_object``: multiply-adds of each part for 1 and 4 objects (what is
  shared, what is per object); ``test_cached_keys_bound``: what caching the memory's keys
  could save at most (not done).

    python -m pytest benchmarks/bench_batched_objects.py -p no:cacheprovider --benchmark-only -o python_files='bench_*.py' -s
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gpu_target  # noqa: E402

from samurai_sam2 import build_samurai_video_predictor  # noqa: E402

THREADS = int(os.environ.get("SAMURAI_BENCH_THREADS", "2"))
SIZE = 256
BOXES = [
    [10.0, 14.0, 38.0, 34.0],
    [88.0, 56.0, 112.0, 84.0],
    [54.0, 18.0, 74.0, 38.0],
    [90.0, 10.0, 110.0, 30.0],
]


def _frames(num_frames: int, height: int = 96, width: int = 128):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(num_frames):
        img = rng.integers(0, 40, size=(height, width), dtype=np.int32)
        for cx, cy, rx, ry, level in (
            (24 + t, 24, 12, 10, 220),
            (100 - t, 70, 10, 12, 160),
            (64, 28 + t, 9, 9, 120),
            (100, 20, 8, 8, 250),
        ):
            img[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1] = level
        frames.append(np.repeat(img.astype(np.uint8)[..., None], 3, axis=2))
    return frames


@pytest.fixture(scope="module")
def predictor():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    return build_samurai_video_predictor("tiny", None, device="cpu", image_size=SIZE)


def _clip_length(benchmark) -> int:
    """Frames per timed clip: 8, or 4 in the suite's untimed smoke run (``--benchmark-disable``,
    where one pass only proves the benchmark still runs)."""
    return 4 if benchmark.disabled else 8


def _frame_times(predictor, frames, num_objects: int, batch_objects: bool, skip: int = 2):
    """Per tracked frame (the prompted frame and the next ``skip - 1`` excluded): wall seconds
    and this process's CPU seconds. On a shared machine the CPU time is the steadier measure
    of the work done (wall time also counts the waits for a core)."""
    predictor.batch_objects = batch_objects
    state = predictor.init_state(frames)
    for k in range(num_objects):
        predictor.add_new_points_or_box(state, 0, k + 1, box=BOXES[k])
    wall, cpu = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for f, _, _ in predictor.propagate_in_video(state):
        t1, c1 = time.perf_counter(), time.process_time()
        if f >= skip:
            wall.append(t1 - t0)
            cpu.append(c1 - c0)
        t0, c0 = time.perf_counter(), time.process_time()
    return wall, cpu


def test_objects_per_frame(benchmark, predictor):
    frames = _frames(_clip_length(benchmark))
    cases = [(1, False), (4, False), (1, True), (4, True)]
    for n, batched in cases if not benchmark.disabled else []:  # warm-up: jit, allocator
        _frame_times(predictor, frames[:4], n, batched)
    wall = {case: [] for case in cases}
    cpu = {case: [] for case in cases}

    def all_cases():
        for case in cases:
            w, c = _frame_times(predictor, frames, *case)
            wall[case].extend(w)
            cpu[case].extend(c)

    benchmark.pedantic(all_cases, rounds=3, iterations=1)
    info = _objects_summary(wall, cpu)
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()))


def _objects_summary(wall: dict, cpu: dict) -> dict:
    """Medians per ``(objects, batched)`` case of frame times (CPU and wall) in ms and the
    ratios 4 objects / 1 object."""
    info = {}
    for label, samples in (("cpu", cpu), ("wall", wall)):
        med = {case: float(np.median(t)) for case, t in samples.items()}
        info.update({f"{label}_{'batched' if b else 'loop'}_{n}obj_ms": 1e3 * med[(n, b)] for n, b in med})
        info[f"{label}_ratio_4_to_1_loop"] = med[(4, False)] / med[(1, False)]
        info[f"{label}_ratio_4_to_1_batched"] = med[(4, True)] / med[(1, True)]
        info[f"{label}_ratio_batched_4_to_loop_1"] = med[(4, True)] / med[(1, False)]
    info.update(frames_each=len(wall[(1, True)]), torch_threads=THREADS, image_size=SIZE)
    return info


def test_memory_attention_grouping(benchmark, predictor):
    """4 objects whose memories hold 7, 6, 5 and 2 frames plus 16 object pointers each."""
    torch.manual_seed(0)
    attn = predictor.memory_attention
    hw = (SIZE // 16) ** 2
    C, D = predictor.hidden_dim, predictor.mem_dim
    ptr_tokens = 16 * (C // D)
    lengths = [n * hw + ptr_tokens for n in (7, 6, 5, 2)]
    curr, curr_pos = torch.randn(hw, 1, C), torch.randn(hw, 1, C)

    def run(batch: int, length: int):
        memory, memory_pos = torch.randn(length, batch, D), torch.randn(length, batch, D)
        return lambda: attn(
            curr=[curr.expand(-1, batch, -1)],
            curr_pos=[curr_pos.expand(-1, batch, -1)],
            memory=memory,
            memory_pos=memory_pos,
            num_obj_ptr_tokens=ptr_tokens,
        )

    grouped = [run(1, L) for L in lengths]
    padded = run(4, max(lengths))
    one_group = run(4, lengths[0])
    samples = {"groups_of_one": [], "padded_to_longest": [], "equal_lengths_one_call": []}
    with torch.inference_mode():
        for _ in range(2):
            [g() for g in grouped], padded(), one_group()

        def all_cases():  # CPU time of this process (see _frame_times)
            t0 = time.process_time()
            [g() for g in grouped]
            t1 = time.process_time()
            padded()
            t2 = time.process_time()
            one_group()
            t3 = time.process_time()
            samples["groups_of_one"].append(t1 - t0)
            samples["padded_to_longest"].append(t2 - t1)
            samples["equal_lengths_one_call"].append(t3 - t2)

        benchmark.pedantic(all_cases, rounds=7, iterations=1)
    info = {f"{k}_ms": 1e3 * float(np.median(v)) for k, v in samples.items()}
    info["memory_tokens"] = lengths
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v}" for k, v in info.items()))


def test_stage_costs(benchmark, predictor, monkeypatch):
    """Where a frame's time goes with 4 objects, batched and looped: CPU time inside each
    module (forward hooks; the batched path's restatements, which call the modules' parts, are
    timed around ``attend_memories`` and ``_encode_tracked_memories``), per frame, averaged
    over the video's frames."""
    import samurai_sam2.predictor as sp

    current = {}  # the running pass's ``spent``

    def timed(name, fn):
        def run(*args):
            t0 = time.process_time()
            out = fn(*args)
            current["spent"][name] += time.process_time() - t0
            return out

        return run

    monkeypatch.setattr(sp, "attend_memories", timed("memory_attention", sp.attend_memories))
    encode = predictor._encode_tracked_memories
    monkeypatch.setattr(predictor, "_encode_tracked_memories", timed("memory_encoder", encode))
    frames = _frames(6)
    stages = {
        "image_encoder": predictor.image_encoder,
        "memory_attention": predictor.memory_attention,
        "mask_decoder": predictor.sam_mask_decoder,
        "memory_encoder": predictor.memory_encoder,
    }
    result = {}

    def run():
        for batched in (False, True):
            predictor.batch_objects = batched
            state = predictor.init_state(frames)
            for k in range(4):
                predictor.add_new_points_or_box(state, 0, k + 1, box=BOXES[k])
            spent = current["spent"] = {name: 0.0 for name in stages}
            started = {}
            handles = []
            for name, module in stages.items():

                def pre(m, a, n=name, started=started):
                    started[n] = time.process_time()

                def post(m, a, out, n=name, spent=spent, started=started):
                    spent[n] += time.process_time() - started[n]

                handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
            t0 = time.process_time()
            for _ in predictor.propagate_in_video(state):
                pass
            total = time.process_time() - t0
            for h in handles:
                h.remove()
            stage_ms = {name: 1e3 * t / len(frames) for name, t in spent.items()}
            stage_ms["total"] = 1e3 * total / len(frames)
            result["batched" if batched else "loop"] = stage_ms

    run()  # warm-up
    benchmark.pedantic(run, rounds=1, iterations=1)
    for key, stage_ms in result.items():
        benchmark.extra_info.update({f"{key}_{k}_ms": v for k, v in stage_ms.items()})
        print(f"\n{key}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in stage_ms.items()))


@pytest.mark.gpu
@pytest.mark.parametrize("image_size", gpu_target.image_sizes([512, 1024]))
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize(
    "bf16", gpu_target.bf16_settings([True, False]), ids=lambda on: "bf16" if on else "fp32"
)
def test_cuda_objects_per_frame(benchmark, image_size, compiled, bf16):
    """Frames/s and peak GPU memory with 1 and 4 objects (batched; 4 also looped), hiera-tiny,
    SAMURAI on, eager or compiled, fp32 or bf16 autocast. Compile time is the first pass's
    excess over a warm pass, reported apart. Skips without a GPU (``scripts/gpu_bench.sh``;
    ``SAMURAI_GPU_REHEARSAL=1`` rehearses it on the CPU, see ``gpu_target``)."""
    device = gpu_target.device()
    torch.manual_seed(0)
    pred = build_samurai_video_predictor("tiny", None, device=device, image_size=image_size)
    gpu_target.prepare(pred)
    pred.bf16_on_cuda = bf16
    num_frames, height, width = gpu_target.clip_shape(24, 480, 640)
    frames = _frames(num_frames, height, width)
    scale = width / 128  # the boxes were drawn for 128x96 frames

    def run(num_objects: int, batched: bool) -> tuple[float, float | None, float]:
        pred.batch_objects = batched
        state = pred.init_state(frames)
        for k in range(num_objects):
            pred.add_new_points_or_box(state, 0, k + 1, box=[v * scale for v in BOXES[k]])
        gpu_target.reset_peak_memory()
        t_start = time.perf_counter()
        times, t0 = [], time.perf_counter()
        for f, _, masks in pred.propagate_in_video(state):
            masks.sum().item()  # block on the GPU
            t1 = time.perf_counter()
            if f >= 2:
                times.append(t1 - t0)
            t0 = time.perf_counter()
        total = time.perf_counter() - t_start
        return float(np.median(times)), gpu_target.peak_memory_mib(), total

    cases = [(1, True), (4, True), (4, False)]
    first = {}
    t0 = time.perf_counter()
    if compiled:
        torch._dynamo.reset()  # the earlier cases' compiled versions count against the limit
        pred.compile_model(backend=gpu_target.compile_backend())
    with gpu_target.RecompileLimitWatch() as watch:
        for case in cases:  # warm-up (and compilation)
            first[case] = run(*case)[2]
        warm = {case: run(*case) for case in cases}
        compile_s = sum(first[c] - warm[c][2] for c in cases) if compiled else 0.0
        results = {}
        benchmark.pedantic(lambda: results.update({c: run(*c) for c in cases}), rounds=1, iterations=1)
    info = {
        "device": gpu_target.device_name(),
        "image_size": image_size,
        "compiled": compiled,
        "dtype": "bf16" if bf16 else "fp32",
        "compile_s": compile_s,
        "setup_s": time.perf_counter() - t0,
        # functions torch.compile gave up on (run eagerly past its recompile limit): the
        # "compiled" figures are partly eager where this is not empty
        "recompile_limit_hits": sorted(set(watch.functions)),
    }
    for (n, batched), (median_s, peak_mib, _) in results.items():
        key = f"{n}obj_{'batched' if batched else 'loop'}"
        info[f"{key}_fps"] = 1.0 / median_s
        info[f"{key}_peak_mib"] = peak_mib
    info["ratio_4_to_1_batched"] = info["1obj_batched_fps"] / info["4obj_batched_fps"]
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()))


@pytest.mark.parametrize("num_objects", [1, 4])
def test_samurai_added_cost_batched(benchmark, predictor, num_objects):
    """SAMURAI's added work per frame on the batched path (``bench_backend.py::
    test_samurai_added_cost`` for the loop): the memory choice per object, boxes from one
    ``[B, 3, 256, 256]`` batch of candidate logits, the one host copy, the core step; 1 torch
    thread. Target ≤ 0.2 ms per object."""
    import itertools

    from samurai_common import candidates as cd
    from samurai_common.candidates import Candidates
    from samurai_common.tracks import VideoTracks

    torch.set_num_threads(1)
    rng = torch.Generator().manual_seed(0)
    high = torch.randn(num_objects, 3, SIZE, SIZE, generator=rng) - 1.0
    for k in range(num_objects):
        high[k, :, 40 + 4 * k : 120, 30:150] += 3.0  # a blob: non-trivial boxes
    cand = Candidates(
        low_res=high[..., ::4, ::4],
        high_res=high,
        ious=torch.rand(num_objects, 3, generator=rng),
        tokens=torch.zeros(num_objects, 3, 1),
        object_score_logits=torch.full((num_objects, 1), 2.0),
        multimask=True,
    )
    tracks = VideoTracks(predictor.samurai_preset("tiny", stable_frames_threshold=2), predictor.jax_device)
    ids = list(range(num_objects))
    frames = itertools.count()

    def one_frame():
        f = next(frames)
        for k in ids:
            tracks.memory_frames(k, f, False)
        chosen, records = cd.decide(tracks, ids, f, [cand])
        return torch.cat(chosen) if num_objects > 1 else chosen[0]

    for _ in range(20):  # compile the core step, fill the ring buffer
        one_frame()
    benchmark.pedantic(one_frame, rounds=200, iterations=1, warmup_rounds=5)
    torch.set_num_threads(THREADS)
    if benchmark.stats is not None:
        median = benchmark.stats.stats.median
        benchmark.extra_info.update(
            median_ms=1e3 * median, per_object_ms=1e3 * median / num_objects, target_ms=0.2
        )
        print(
            f"\nbatched added cost, {num_objects} objects: {1e3 * median:.3f} ms ({1e3 * median / num_objects:.3f} per object)"
        )


# ---------------------------------------------------------------- the transformers backend
HF_STAGES = ("vision_encoder", "memory_attention", "mask_decoder", "memory_encoder")


def _hf_model(family: str):
    """A random-init full-size tracker of ``family`` at ``SIZE`` px with SAMURAI (tiny preset)."""
    from transformers import (
        EdgeTamVideoConfig,
        EdgeTamVideoModel,
        EdgeTamVisionConfig,
        Sam2VideoConfig,
        Sam2VideoModel,
        TimmWrapperConfig,
    )

    from samurai_hf import build_samurai_hf_model

    sizes = {"backbone_feature_sizes": [[SIZE // 4] * 2, [SIZE // 8] * 2, [SIZE // 16] * 2]}
    at_size = {
        "image_size": SIZE,
        "prompt_encoder_config": {"image_size": SIZE},
        "memory_attention_rope_feat_sizes": [SIZE // 16] * 2,
    }
    torch.manual_seed(0)
    if family == "sam2_video":  # the default config is hiera-tiny
        hiera = {"model_type": "sam2_hiera_det_model", "image_size": [SIZE, SIZE]}
        vision = {"model_type": "sam2_vision_model", "backbone_config": hiera, **sizes}
        return build_samurai_hf_model(Sam2VideoModel(Sam2VideoConfig(vision_config=vision, **at_size)).eval())
    pytest.importorskip("timm")
    repvit = TimmWrapperConfig(
        architecture="repvit_m1",
        model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]},
    )
    config = EdgeTamVideoConfig(vision_config=EdgeTamVisionConfig(backbone_config=repvit, **sizes), **at_size)
    return build_samurai_hf_model(EdgeTamVideoModel(config).eval())


def _hf_frame_times(model, processor, frames, num_objects: int, batch_objects: bool, skip: int = 2):
    """:func:`_frame_times` for a transformers tracker (its session and propagation)."""
    model.batch_objects = batch_objects
    session = processor.init_video_session(video=frames, inference_device="cpu")
    height, width = frames[0].shape[:2]
    processor.add_inputs_to_inference_session(
        session,
        frame_idx=0,
        obj_ids=list(range(1, num_objects + 1)),
        input_boxes=[BOXES[:num_objects]],
        original_size=(height, width),
    )
    wall, cpu = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        for out in model.propagate_in_video_iterator(session, start_frame_idx=0):
            t1, c1 = time.perf_counter(), time.process_time()
            if out.frame_idx >= skip:
                wall.append(t1 - t0)
                cpu.append(c1 - c0)
            t0, c0 = time.perf_counter(), time.process_time()
    return wall, cpu


@pytest.mark.parametrize("family", ["sam2_video", "edgetam_video"])
def test_hf_objects_per_frame(benchmark, family):
    """As ``test_objects_per_frame``, for the transformers backend; plus the CPU time per frame
    inside each module with 4 objects, batched and looped (forward hooks)."""
    pytest.importorskip("transformers")
    from samurai_hf import default_processor

    torch.set_num_threads(THREADS)
    model = _hf_model(family)
    processor = default_processor(family, SIZE)
    frames = _frames(_clip_length(benchmark))
    cases = [(1, False), (4, False), (1, True), (4, True)]
    spent = {name: 0.0 for name in HF_STAGES}
    started = {}
    for name in HF_STAGES:
        module = getattr(model, name)
        module.register_forward_pre_hook(lambda m, a, n=name: started.__setitem__(n, time.process_time()))
        module.register_forward_hook(
            lambda m, a, o, n=name: spent.__setitem__(n, spent[n] + time.process_time() - started[n])
        )
    for n, batched in cases if not benchmark.disabled else []:  # warm-up: jit, allocator
        _hf_frame_times(model, processor, frames[:4], n, batched)
    wall = {case: [] for case in cases}
    cpu = {case: [] for case in cases}
    stages = {case: {name: 0.0 for name in HF_STAGES} for case in cases}

    def all_cases():
        for case in cases:
            before = dict(spent)
            w, c = _hf_frame_times(model, processor, frames, *case)
            wall[case].extend(w)
            cpu[case].extend(c)
            for name in HF_STAGES:
                stages[case][name] += (spent[name] - before[name]) / len(frames)

    rounds = 3
    benchmark.pedantic(all_cases, rounds=rounds, iterations=1)
    info = _objects_summary(wall, cpu)
    for n, batched in cases:
        if n == 4:
            key = "batched" if batched else "loop"
            info.update({f"stage_{key}_4obj_{k}_ms": 1e3 * v / rounds for k, v in stages[n, batched].items()})
    info["family"] = family
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()))


# ---------------------------------------------------------------- memory attention restated
# (samurai_sam2/memory_attention.py): sam2's module against the restatement the batched path
# runs, alone and in whole frames, interleaved in one process.


def test_memory_attention_restated(benchmark, predictor):
    """Memory attention alone, 1 and 4 objects whose memories hold 7 frames and 16 object
    pointers (the full memory at 256 px: 1 856 tokens): sam2's module on the objects'
    batch against ``attend_memories``; CPU time, medians of 9 interleaved rounds."""
    from samurai_sam2.memory_attention import attend_memories

    torch.manual_seed(0)
    attn = predictor.memory_attention
    hw = (SIZE // 16) ** 2
    C, D = predictor.hidden_dim, predictor.mem_dim
    ptr_tokens = 16 * (C // D)
    length = 7 * hw + ptr_tokens
    curr, curr_pos = torch.randn(hw, 1, C), torch.randn(hw, 1, C)
    cases = {}
    for n in (1, 4):
        memory, memory_pos = torch.randn(length, n, D), torch.randn(length, n, D)
        cases[f"sam2_{n}obj"] = lambda n=n, m=memory, p=memory_pos: attn(
            curr=[curr.expand(-1, n, -1)],
            curr_pos=[curr_pos.expand(-1, n, -1)],
            memory=m,
            memory_pos=p,
            num_obj_ptr_tokens=ptr_tokens,
        )
        cases[f"restated_{n}obj"] = lambda m=memory, p=memory_pos: attend_memories(
            attn, curr, curr_pos, m, p, ptr_tokens
        )
    samples = {name: [] for name in cases}
    with torch.inference_mode():
        for run in cases.values():
            run()

        def all_cases():
            for name, run in cases.items():
                t0 = time.process_time()
                run()
                samples[name].append(time.process_time() - t0)

        benchmark.pedantic(all_cases, rounds=9, iterations=1)
    info = {f"{k}_ms": 1e3 * float(np.median(v)) for k, v in samples.items()}
    for n in (1, 4):
        info[f"restated_to_sam2_{n}obj"] = info[f"restated_{n}obj_ms"] / info[f"sam2_{n}obj_ms"]
    info["memory_tokens"] = length
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()))


def test_objects_per_frame_restated(benchmark, predictor, monkeypatch):
    """Whole frames, batched, 1 and 4 objects, with the restated memory attention and memory
    encoder (image projection once per frame) and with sam2's modules (the batched path before
    them), interleaved in one process (as ``test_objects_per_frame``: CPU and wall time per
    tracked frame, medians, SAMURAI on)."""
    import samurai_sam2.predictor as sp

    restates, encoder_type = sp.restatement_applies, sp.MemoryEncoder
    frames = _frames(_clip_length(benchmark))
    cases = [(1, "sam2"), (4, "sam2"), (1, "restated"), (4, "restated")]

    class NoEncoder:  # no module is one: the predictor calls sam2's _encode_new_memory
        pass

    def run(n, how):
        restated = how == "restated"
        monkeypatch.setattr(sp, "restatement_applies", restates if restated else lambda attn: False)
        monkeypatch.setattr(sp, "MemoryEncoder", encoder_type if restated else NoEncoder)
        return _frame_times(predictor, frames, n, batch_objects=True)

    for case in cases if not benchmark.disabled else []:  # warm-up
        run(*case)
    wall = {case: [] for case in cases}
    cpu = {case: [] for case in cases}

    def all_cases():
        for case in cases:
            w, c = run(*case)
            wall[case].extend(w)
            cpu[case].extend(c)

    benchmark.pedantic(all_cases, rounds=3, iterations=1)
    monkeypatch.setattr(sp, "restatement_applies", restates)
    monkeypatch.setattr(sp, "MemoryEncoder", encoder_type)
    info = {}
    for label, samples in (("cpu", cpu), ("wall", wall)):
        med = {case: float(np.median(t)) for case, t in samples.items()}
        info.update({f"{label}_{how}_{n}obj_ms": 1e3 * med[(n, how)] for n, how in cases})
        for how in ("sam2", "restated"):
            info[f"{label}_ratio_4_to_1_{how}"] = med[(4, how)] / med[(1, how)]
    info.update(frames_each=len(wall[(1, "sam2")]), torch_threads=THREADS, image_size=SIZE)
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()))


def test_multiply_adds_per_object(benchmark, predictor):
    """Multiply-adds (``torch.utils.flop_counter.FlopCounterMode``, FLOPs / 2) of each part
    for 1 and 4 objects on one frame at the full memory (1 856 tokens): memory attention
    (sam2's module, restated), mask decoder, memory encoder (sam2's, and with the image
    projection once), and the image encoder. The counter sees matrix products and
    convolutions, not ``scaled_dot_product_attention`` on the CPU: sam2's memory attention
    runs its attention products there (and the restatement its self-attention's)."""
    from torch.utils.flop_counter import FlopCounterMode

    from samurai_sam2.memory_attention import attend_memories

    torch.manual_seed(0)
    p = predictor
    hw = (SIZE // 16) ** 2
    C, D = p.hidden_dim, p.mem_dim
    ptr_tokens = 16 * (C // D)
    length = 7 * hw + ptr_tokens

    def macs(fn, *args, **kwargs) -> float:
        with FlopCounterMode(display=False) as counter:
            fn(*args, **kwargs)
        return counter.get_total_flops() / 2e6

    info = {}
    with torch.inference_mode():
        image = torch.randn(1, 3, SIZE, SIZE)
        _, feats, pos, sizes = p._prepare_backbone_features(p.forward_image(image))
        info["image_encoder_M"] = macs(p.forward_image, image)
        curr, curr_pos = feats[-1], pos[-1]
        for n in (1, 4):
            memory, memory_pos = torch.randn(length, n, D), torch.randn(length, n, D)
            info[f"memory_attention_sam2_{n}obj_M"] = macs(
                p.memory_attention,
                curr=[curr.expand(-1, n, -1)],
                curr_pos=[curr_pos.expand(-1, n, -1)],
                memory=memory,
                memory_pos=memory_pos,
                num_obj_ptr_tokens=ptr_tokens,
            )
            info[f"memory_attention_restated_{n}obj_M"] = macs(
                attend_memories, p.memory_attention, curr, curr_pos, memory, memory_pos, ptr_tokens
            )
            pix = curr.permute(1, 2, 0).view(1, C, *sizes[-1]).expand(n, -1, -1, -1)
            high_res = [
                x.permute(1, 2, 0).view(1, x.size(2), *s).expand(n, -1, -1, -1)
                for x, s in zip(feats[:-1], sizes[:-1])
            ]
            info[f"mask_decoder_{n}obj_M"] = macs(p._sam_head_candidates, pix, high_res, True)
            masks, scores = torch.randn(n, 1, SIZE, SIZE), torch.randn(n, 1)
            info[f"memory_encoder_sam2_{n}obj_M"] = macs(
                p._encode_new_memory, [curr.expand(-1, n, -1)], sizes, masks, scores, False
            )
            info[f"memory_encoder_shared_image_{n}obj_M"] = macs(
                p._encode_tracked_memories, curr, sizes, masks, scores
            )
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update(info, memory_tokens=length)
    print("\n" + ", ".join(f"{k} {v:.1f}" for k, v in info.items()))


def test_cached_keys_bound(benchmark, predictor):
    """What caching each memory frame's projected, rotated keys could save (not done): per
    memory-attention layer, 4 objects at the full memory, the key path the restatement runs
    (projection of memory + position, rotary encoding) against adding a cached ``[4, N, C]``
    to a shared ``[1, N, C]`` (what a cache would leave); CPU time, medians of 15."""
    from samurai_sam2.memory_attention import _rope_table, _rotate_

    torch.manual_seed(0)
    ca = predictor.memory_attention.layers[0].cross_attn_image
    hw = (SIZE // 16) ** 2
    C, D, G = predictor.hidden_dim, predictor.mem_dim, 4
    length = 7 * hw + 16 * (C // D)
    memory = torch.randn(length, G, D).transpose(0, 1)
    memory_pos = torch.randn(length, G, D).transpose(0, 1)
    table = _rope_table(ca, torch.randn(1, hw, C))
    cached, shared = torch.randn(G, length, C), torch.randn(1, length, C)

    def key_path():
        k = ca.k_proj(memory + memory_pos).float().contiguous()
        _rotate_(k[:, : 7 * hw], table, repeat=True)

    cases = {"key_path": key_path, "cached_assembly": lambda: cached + shared}
    samples = {name: [] for name in cases}
    with torch.inference_mode():

        def all_cases():
            for name, run in cases.items():
                t0 = time.process_time()
                run()
                samples[name].append(time.process_time() - t0)

        all_cases()
        benchmark.pedantic(all_cases, rounds=15, iterations=1)
    info = {f"{k}_ms": 1e3 * float(np.median(v)) for k, v in samples.items()}
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.2f}" for k, v in info.items()))
