"""All four chambers from one model with no box, on phantoms with ground truth.

Four-chamber phantom videos (``samurai.data.synthetic.write_four_chamber``: own speckle seed,
heart rate, position, size and LV fade per video) in the generic layout; train on some, choose
the epoch on a validation folder (``val_data``), report on held-out ones, Dice per chamber (mean
over the frames after the first, then over videos) of

  (a) learned prompts + SAMURAI   (``track_chambers``, SAMURAI on; no box anywhere)
  (b) learned prompts + vanilla   (``track_chambers``, SAMURAI off)
  (c) truth boxes + SAMURAI       (the upper reference: a model trained the same way with box
                                   prompts, prompted on frame 0 by each chamber's true box)

and, apart, the Dice of the first frame alone: what the class prompts (or the boxes) find
before any tracking.

Pretrained SAM 2 weights cannot be had here: the base model is random-init hiera-tiny at a small
image size. LoRA alone on a random encoder does not learn the phantom (see docs/benchmarks.md),
so the runs also train the mask decoder, the image encoder's neck and the memory path (memory
attention and encoder) in full (``train_modules``): a phantom-only setting, not the recipe for
real data.

    python benchmarks/bench_chambers.py --out runs/bench_chambers            # the documented run
    python -m pytest benchmarks/bench_chambers.py -p no:cacheprovider -o python_files='bench_*.py'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from samurai.eval.metrics import dice

CLASSES = ["lv", "la", "rv", "ra"]
PHANTOM_ONLY_MODULES = ["sam_mask_decoder", "image_encoder.neck", "memory_attention", "memory_encoder"]

# The documented run (docs/benchmarks.md); the pytest case runs a smaller one.
FULL = dict(
    n_train=16,
    n_val=4,
    n_test=4,
    n_frames=16,
    size=128,
    image_size=128,
    epochs=40,
    lr=5e-4,
    clip_len=2,
    train_modules=PHANTOM_ONLY_MODULES,
)


def _train(data: Path, val: Path, base: Path, out: Path, prompts: str, p: dict):
    """Train ``prompts`` ("learned" or "box") on the generic folder ``data``, validated on
    ``val``, from the random-init ``base``: ``(best adapter, seconds, trainable parameters,
    best epoch)``."""
    from samurai.train.loop import TrainConfig, train

    cfg = TrainConfig(
        data=str(data),
        kind="generic",
        train_split=None,
        val_split=None,
        val_data=str(val),
        out_dir=str(out),
        checkpoint=str(base),
        image_size=p["image_size"],
        device="cpu",
        clip_len=p["clip_len"],
        epochs=p["epochs"],
        lr=p["lr"],
        warmup_steps=10,
        prompts=prompts,
        classes=CLASSES if prompts == "learned" else None,
        train_modules=p["train_modules"],
        progress=False,
    )
    t0 = time.perf_counter()
    result = train(cfg, resume=False)
    best = [h["epoch"] for h in result["history"] if h["best"]][-1]
    return out / "best_adapter", time.perf_counter() - t0, result["trainable_parameters"], best


def _predictor(base: Path, adapter: Path, image_size: int):
    from samurai.train.lora import load_adapter
    from samurai_sam2 import build_samurai_video_predictor

    predictor = build_samurai_video_predictor("tiny", str(base), device="cpu", image_size=image_size)
    return load_adapter(predictor, adapter)


def _score(masks_per_frame, truth: np.ndarray, frames=None) -> dict[str, float]:
    """Dice per chamber over ``frames`` (default 1..) of one video (object id k = chamber k of
    CLASSES)."""
    frames = range(1, len(truth)) if frames is None else frames
    out = {}
    for k, name in enumerate(CLASSES, 1):
        out[name] = float(
            np.mean(
                [
                    dice(masks_per_frame[t].get(k, np.zeros(truth.shape[1:], bool)), truth[t] == k)
                    for t in frames
                ]
            )
        )
    return out


def run(
    out_dir,
    n_train,
    n_val,
    n_test,
    n_frames,
    size,
    image_size,
    epochs,
    lr,
    clip_len,
    train_modules,
    seed: int = 0,
) -> dict:
    """Write the phantoms, train both models, score (a), (b), (c) on the held-out videos."""
    import torch

    from samurai.data.synthetic import write_four_chamber
    from samurai.prompters.learned import track_chambers
    from samurai.tracking import sam2_track
    from samurai.train.model import build_model
    from samurai_core.boxes import mask_to_box

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = dict(
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        n_frames=n_frames,
        size=size,
        image_size=image_size,
        epochs=epochs,
        lr=lr,
        clip_len=clip_len,
        train_modules=train_modules,
        seed=seed,
    )
    write_four_chamber(out_dir / "train", n_train, n_frames, size, seed=seed + 1)
    write_four_chamber(out_dir / "val", n_val, n_frames, size, seed=seed + 3)
    test = write_four_chamber(out_dir / "test", n_test, n_frames, size, seed=seed + 2)["cases"]
    torch.manual_seed(seed)
    base = out_dir / "base_random_init.pt"
    torch.save({"model": build_model("tiny", None, "cpu", image_size).state_dict()}, base)

    train_val = (out_dir / "train", out_dir / "val")
    learned, t_learned, n_learned, e_learned = _train(
        *train_val, base, out_dir / "learned", "learned", params
    )
    boxed, t_box, _, e_box = _train(*train_val, base, out_dir / "box", "box", params)
    p_learned = _predictor(base, learned, image_size)
    p_box = _predictor(base, boxed, image_size)

    per_video = {"learned+samurai": [], "learned+vanilla": [], "box+samurai": []}
    first_frame = {"learned": [], "box": []}
    reseeds = {"learned+samurai": 0, "learned+vanilla": 0}
    for case in test.values():
        rgb = np.repeat(case["frames"][..., None], 3, axis=3)
        truth = case["masks"]
        for method, samurai in (("learned+samurai", True), ("learned+vanilla", False)):
            events: list = []
            masks = {
                t: m for t, m, _ in track_chambers(p_learned, rgb, CLASSES, samurai=samurai, events=events)
            }
            per_video[method].append(_score(masks, truth))
            reseeds[method] += sum(e.kind == "reseed" for e in events)
        first_frame["learned"].append(_score(masks, truth, [0]))
        prompts = {k: ("box", mask_to_box(truth[0] == k)) for k in range(1, len(CLASSES) + 1)}
        masks = {t: m for t, m, _ in sam2_track(p_box, rgb, prompts, samurai=True)}
        per_video["box+samurai"].append(_score(masks, truth))
        first_frame["box"].append(_score(masks, truth, [0]))

    table = {
        method: {name: float(np.mean([v[name] for v in videos])) for name in CLASSES}
        for method, videos in per_video.items()
    }
    first = {
        prompts: {name: float(np.mean([v[name] for v in videos])) for name in CLASSES}
        for prompts, videos in first_frame.items()
    }
    for row in (*table.values(), *first.values()):
        row["mean"] = float(np.mean([row[c] for c in CLASSES]))
    result = {
        "params": params,
        "dice": table,
        "first_frame_dice": first,
        "reseeds": reseeds,
        "best_epoch": {"learned": e_learned, "box": e_box},
        "train_seconds": {"learned": t_learned, "box": t_box},
        "trainable_parameters": n_learned,
        "per_video": per_video,
    }
    (out_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def markdown(result: dict) -> str:
    rows = ["| method | " + " | ".join(CLASSES) + " | mean |", "|---" * (len(CLASSES) + 2) + "|"]
    named = [(m, row) for m, row in result["dice"].items()]
    named += [(f"first frame only, {p} prompts", row) for p, row in result["first_frame_dice"].items()]
    for method, row in named:
        rows.append(
            f"| {method} | " + " | ".join(f"{row[c]:.3f}" for c in CLASSES) + f" | {row['mean']:.3f} |"
        )
    return "\n".join(rows)


@pytest.mark.slow
def test_chambers_phantom(benchmark, tmp_path):
    """A small run (4 train / 2 held-out videos, 2 epochs): the mechanics end to end, figures
    in ``extra_info``. The documented figures come from ``python benchmarks/bench_chambers.py``."""
    pytest.importorskip("torch")
    import torch

    torch.set_num_threads(int(os.environ.get("SAMURAI_BENCH_THREADS", "1")))
    small = {**FULL, "n_train": 4, "n_val": 1, "n_test": 2, "n_frames": 8, "epochs": 2}
    result = benchmark.pedantic(run, args=(tmp_path,), kwargs=small, rounds=1, iterations=1)
    benchmark.extra_info["dice"] = result["dice"]
    assert set(result["dice"]) == {"learned+samurai", "learned+vanilla", "box+samurai"}
    assert set(result["first_frame_dice"]) == {"learned", "box"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench_chambers")
    parser.add_argument("--epochs", type=int, default=FULL["epochs"])
    parser.add_argument("--lr", type=float, default=FULL["lr"])
    parser.add_argument("--clip-len", type=int, default=FULL["clip_len"], help="frames per training clip")
    parser.add_argument(
        "--train-modules",
        default=",".join(PHANTOM_ONLY_MODULES),
        help="comma-separated modules trained in full beside LoRA ('' for LoRA + prompts only)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("SAMURAI_BENCH_THREADS", "1")))
    modules = [m for m in args.train_modules.split(",") if m]
    params = {
        **FULL,
        "epochs": args.epochs,
        "lr": args.lr,
        "clip_len": args.clip_len,
        "train_modules": modules or None,
    }
    result = run(args.out, **params)
    print(markdown(result))
    print(
        json.dumps({k: result[k] for k in ("reseeds", "best_epoch", "train_seconds", "trainable_parameters")})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
