"""Florence-2 + LoRA as a chamber finder on phantoms: box IoU per chamber on held-out videos.

A small random-init Florence-2 (``write_tiny_florence``; no pre-training, so this measures what
the LoRA fine-tuning path can learn from scratch-level features, not what a pre-trained
Florence-2 reaches) is fine-tuned with ``samurai train --model florence2`` on synthetic echo
videos (the generic layout of ``samurai.data.synthetic``) and asked, by phrase, for each
chamber's box on the first labelled frame of videos it never saw. For scale, the same IoU of a
finder that looks at nothing: each chamber's mean training box, answered on every test frame.

    python benchmarks/florence2_phantom.py --out /tmp/florence2_bench
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--train-videos", type=int, default=16)
    p.add_argument("--test-videos", type=int, default=8)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    from samurai.cli import main as cli
    from samurai.data import open_dataset
    from samurai.data.synthetic import write_generic
    from samurai.florence import FlorenceFinder, load_florence, write_tiny_florence
    from samurai.train.florence import evaluate_boxes

    torch.set_num_threads(args.threads)
    out = args.out
    model = write_tiny_florence(out / "florence_tiny", image_size=args.image_size)
    write_generic(out / "train", n_videos=args.train_videos, n_frames=4, seed=0)
    write_generic(out / "test", n_videos=args.test_videos, n_frames=4, seed=1)
    t0 = time.perf_counter()
    code = cli(
        [
            "train",
            "--model",
            "florence2",
            "--checkpoint",
            str(model),
            "--data",
            str(out / "train"),
            "--train-split",
            "none",
            "--val-split",
            "none",
            "--epochs",
            str(args.epochs),
            "--lr",
            str(args.lr),
            "--warmup-steps",
            "10",
            "--no-progress",
            "--out",
            str(out / "run"),
        ]
    )
    if code:
        return code
    train_s = time.perf_counter() - t0
    test = open_dataset(out / "test")
    rows = {"mean_training_box": _mean_box_rows(open_dataset(out / "train"), test)}
    for name, adapter in (("untrained", None), ("lora", out / "run" / "adapter")):
        finder = FlorenceFinder(*load_florence(model, adapter))
        ious = evaluate_boxes(finder, test, range(len(test)))
        rows[name] = _summary(ious)
    result = {"args": {k: str(v) for k, v in vars(args).items()}, "train_seconds": train_s, "box_iou": rows}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def _summary(ious: dict) -> dict:
    return {
        k: {"mean_iou": float(np.mean(v)), "iou_ge_0.5": float(np.mean(np.array(v) >= 0.5)), "n": len(v)}
        for k, v in sorted(ious.items())
    }


def _first_boxes(dataset) -> dict:
    """{structure: [box of its mask on each case's first labelled frame]}."""
    from samurai_core.boxes import mask_to_box

    boxes: dict = {}
    for i in range(len(dataset)):
        case = dataset[i]
        t = int(np.flatnonzero(case.labelled)[0])
        for k, name in case.labels.items():
            if (case.masks[t] == k).any():
                boxes.setdefault(name, []).append(mask_to_box(case.masks[t] == k))
    return boxes


def _mean_box_rows(train, test) -> dict:
    from samurai.train.florence import box_iou

    mean = {k: np.mean(v, axis=0) for k, v in _first_boxes(train).items()}
    return _summary({k: [box_iou(mean[k], b) for b in v] for k, v in _first_boxes(test).items()})


if __name__ == "__main__":
    raise SystemExit(main())
