"""``samurai calibrate``: fit the motion model's Kalman noise weights to example box tracks.

Inputs are box tracks: LaSOT / GOT-10k-style box files (``groundtruth.txt``, one ``x,y,w,h`` line
per frame), or the masks of an echo dataset (one label's box per case). The tracks are split
into a fit set and a held-out set (seeded); the noise weights are fitted by maximum likelihood
on the fit set (``samurai_core.calibrate.fit_noise``) and written as a small JSON file that
``samurai_core.calibrate.config_with_noise`` plugs into a tracker config. A report compares the
default and the fitted weights on the held-out tracks: negative log-likelihood per frame and the
IoU of the filter's one-step-ahead prediction with the next true box.

See docs/calibration.md.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from samurai.cli import CLIError

MOTION_MODELS = ("xyah", "xywh", "xyxy")  # samurai_core.config.MOTION_MODELS, kept import-free


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the Kalman noise weights of the motion model to example box tracks",
        description=(
            "Fit SAMURAI's Kalman-filter noise weights by maximum likelihood on box tracks "
            "(LaSOT-style groundtruth.txt files, or the masks of an echo dataset), write them "
            "as JSON, and report one-step prediction IoU and NLL per frame before vs after on "
            "held-out tracks."
        ),
    )
    p.add_argument(
        "boxes",
        nargs="*",
        help="box files (x,y,w,h per line, comma or whitespace separated; NaN or zero-size = "
        "absent) or folders searched recursively for groundtruth.txt",
    )
    p.add_argument("--dataset", help="echo dataset folder: track the box of --label in its masks")
    p.add_argument("--kind", choices=("camus2023", "camus2019", "echonet", "generic"),
                   help="dataset layout (default: detected)")
    p.add_argument("--split", help="dataset split to use: train, val or test (default: all)")
    p.add_argument("--label", type=int, default=1, help="mask label whose box is tracked (default: 1, the LV)")
    p.add_argument("--motion-model", choices=MOTION_MODELS, default="xyah",
                   help="Kalman state: xyah (official SAMURAI), xywh or xyxy (default: xyah)")
    p.add_argument("--holdout", type=float, default=0.2,
                   help="fraction of tracks held out for the report; 0 reports on the fit set "
                   "(default: 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fit / held-out split (default: 0)")
    p.add_argument("--steps", type=int, default=200, help="maximum number of Adam steps (default: 200)")
    p.add_argument("--lr", type=float, default=0.1, help="Adam learning rate, log-weight units (default: 0.1)")
    p.add_argument("-o", "--out", default="noise.json", help="calibration file to write (default: noise.json)")
    p.add_argument("--report", default=None,
                   help="report JSON to write (default: OUT with the suffix .report.json)")
    p.set_defaults(run=run)


def read_box_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a LaSOT-style box file: ``(boxes_xyxy float64[T, 4], present bool[T])``.

    Lines hold ``x,y,w,h`` (top-left corner, pixels) separated by commas and/or whitespace.
    A line with a non-finite value or a non-positive width/height marks the object absent.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not a text box file; give x,y,w,h lines") from None
    rows = []
    for n, line in enumerate(text.strip().splitlines(), 1):
        parts = line.replace(",", " ").split()
        if len(parts) != 4:
            raise CLIError(
                f"{path}:{n}: expected 4 numbers x,y,w,h (comma or whitespace separated), got "
                f"{line.strip()!r}; fix or remove the line (write NaN,NaN,NaN,NaN for an absent object)"
            )
        try:
            rows.append([float(v) for v in parts])
        except ValueError:
            raise CLIError(
                f"{path}:{n}: {line.strip()!r} is not 4 numbers; write x,y,w,h "
                "(NaN,NaN,NaN,NaN for an absent object)"
            ) from None
    if not rows:
        raise CLIError(f"{path} is empty; a box file needs one x,y,w,h line per frame")
    xywh = np.asarray(rows, np.float64)
    present = np.isfinite(xywh).all(axis=1) & (xywh[:, 2] > 0) & (xywh[:, 3] > 0)
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return np.where(present[:, None], xyxy, np.nan), present


def _box_files(paths: list[str]) -> list[Path]:
    files = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.rglob("groundtruth.txt"))
            if not found:
                raise CLIError(f"no groundtruth.txt under {path}; give box files or folders holding them")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CLIError(f"{path} does not exist; give box files or folders of groundtruth.txt")
    return files


def mask_boxes(masks: np.ndarray, labelled: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (xyxy, pixel edges) of ``label`` in a label map ``[T, H, W]``; absent where unlabelled."""
    m = masks == label
    rows, cols = m.any(axis=2), m.any(axis=1)
    present = np.asarray(labelled, bool) & rows.any(axis=1)
    h, w = rows.shape[1], cols.shape[1]
    y1 = rows.argmax(axis=1)
    y2 = h - rows[:, ::-1].argmax(axis=1)
    x1 = cols.argmax(axis=1)
    x2 = w - cols[:, ::-1].argmax(axis=1)
    boxes = np.stack([x1, y1, x2, y2], axis=1).astype(np.float64)
    return np.where(present[:, None], boxes, np.nan), present


def _dataset_tracks(args) -> list[tuple[str, np.ndarray, np.ndarray]]:
    from samurai.data import DatasetError, open_dataset

    try:
        dataset = open_dataset(args.dataset, kind=args.kind, split=args.split)
        tracks = []
        for i in range(len(dataset)):
            case = dataset[i]
            boxes, present = mask_boxes(case.masks, case.labelled, args.label)
            tracks.append((f"{args.dataset}:{case.case_id}", boxes, present))
    except DatasetError as err:
        raise CLIError(str(err)) from None
    return tracks


def _split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_hold = 0 if holdout == 0 else max(1, int(round(holdout * n)))
    if n - n_hold < 1:
        raise CLIError(
            f"{n} usable track(s) cannot be split with --holdout {holdout}; give more tracks or "
            "use --holdout 0 (report on the fit set)"
        )
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])


def _check_output_file(path: Path, option: str) -> None:
    """Raise CLIError unless ``path`` can be written as a file (checked before the fit; missing
    folders are made when it is written)."""
    if path.is_dir():
        raise CLIError(f"{option} {path} is a folder; give a file name, e.g. {path / 'noise.json'}")
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise CLIError(f"{option} {path}: {folder} is a file, not a folder; choose another path")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CLIError(f"{option} {path} cannot be written (permission denied in {folder}); choose a path in a writable folder")


def run(args) -> int:
    from samurai_core.calibrate import (
        Calibration,
        FREE_FIELDS,
        fit_noise,
        pad_tracks,
        save_calibration,
        score_noise,
        write_json_atomic,
    )
    from samurai_core.types import NoiseParams

    if not 0.0 <= args.holdout < 1.0:
        raise CLIError(f"--holdout {args.holdout} must lie in [0, 1)")
    if args.steps < 1:
        raise CLIError(f"--steps {args.steps} must be >= 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise CLIError(f"--lr {args.lr} must be a positive number")
    if not args.boxes and not args.dataset:
        raise CLIError("give box files / folders of groundtruth.txt, or --dataset FOLDER")
    out = Path(args.out)
    report_path = Path(args.report) if args.report else out.with_suffix(".report.json")
    _check_output_file(out, "-o/--out")
    _check_output_file(report_path, "--report")

    tracks = []
    for path in _box_files(args.boxes):
        boxes, present = read_box_file(path)
        tracks.append((str(path), boxes, present))
    if args.dataset:
        tracks.extend(_dataset_tracks(args))
    usable = [t for t in tracks if t[2].sum() >= 2]
    if len(usable) < len(tracks):
        print(f"skipped {len(tracks) - len(usable)} track(s) with fewer than 2 present boxes")
    if not usable:
        raise CLIError("no track has 2 or more present boxes; nothing to fit")

    fit_idx, hold_idx = _split(len(usable), args.holdout, args.seed)
    fit_boxes, fit_valid = pad_tracks([usable[i][1] for i in fit_idx], [usable[i][2] for i in fit_idx])
    eval_idx = hold_idx if len(hold_idx) else fit_idx
    eval_boxes, eval_valid = pad_tracks(
        [usable[i][1] for i in eval_idx], [usable[i][2] for i in eval_idx]
    )
    init = NoiseParams()
    try:
        fitted, history = fit_noise(
            fit_boxes, fit_valid, args.motion_model, init, steps=args.steps, learning_rate=args.lr
        )
    except (ValueError, FloatingPointError) as err:
        raise CLIError(str(err)) from None
    before = score_noise(args.motion_model, init, eval_boxes, eval_valid)
    after = score_noise(args.motion_model, fitted, eval_boxes, eval_valid)

    evaluated_on = "held-out" if len(hold_idx) else "fit (no held-out tracks)"
    data = list(args.boxes) + ([f"dataset {args.dataset} label {args.label}"] if args.dataset else [])
    provenance = {
        "data": data,
        "n_sequences": history.n_sequences,
        "n_frames": history.n_frames,
        "nll_before": history.nll_before,
        "nll_after": history.nll_after,
        "steps": history.steps,
        "converged": history.converged,
        "learning_rate": args.lr,
        "free": list(FREE_FIELDS[args.motion_model]),
        "holdout": {
            "fraction": args.holdout,
            "seed": args.seed,
            "n_sequences": int(len(hold_idx)),
            "nll_before": before.nll_per_frame,
            "nll_after": after.nll_per_frame,
            "prediction_iou_before": before.prediction_iou,
            "prediction_iou_after": after.prediction_iou,
        },
    }
    save_calibration(out, Calibration(args.motion_model, fitted, provenance))
    report = {
        "motion_model": args.motion_model,
        "calibration": str(out),
        "evaluated_on": evaluated_on,
        "fit": {
            "sequences": [usable[i][0] for i in fit_idx],
            "frames": history.n_frames,
            "nll_before": history.nll_before,
            "nll_after": history.nll_after,
            "steps": history.steps,
            "converged": history.converged,
        },
        "eval": {
            "sequences": [usable[i][0] for i in eval_idx],
            "frames": after.n_frames,
            "default": before._asdict(),
            "calibrated": after._asdict(),
        },
        "noise": {"default": init._asdict(), "calibrated": fitted._asdict()},
        "skipped_tracks": [t[0] for t in tracks if t[2].sum() < 2],
    }
    write_json_atomic(report_path, report)

    print(
        f"{len(usable)} tracks: {len(fit_idx)} fit, {len(hold_idx)} held out; motion model "
        f"{args.motion_model}"
    )
    print(
        f"fit: {history.steps} Adam steps{' (converged)' if history.converged else ''}, "
        f"NLL/frame {history.nll_before:.4f} -> {history.nll_after:.4f} on {history.n_frames} frames"
    )
    print(f"{evaluated_on} ({len(eval_idx)} tracks, {after.n_frames} frames)   default  calibrated")
    print(f"  NLL per frame                {before.nll_per_frame:10.4f} {after.nll_per_frame:10.4f}")
    print(f"  one-step prediction IoU      {before.prediction_iou:10.4f} {after.prediction_iou:10.4f}")
    print("noise weights (default -> calibrated):")
    for name in FREE_FIELDS[args.motion_model]:
        print(f"  {name:24s} {getattr(init, name):.4g} -> {getattr(fitted, name):.4g}")
    print(f"wrote {out} and {report_path}")
    return 0
