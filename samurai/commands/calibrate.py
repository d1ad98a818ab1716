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
from typing import Any, NamedTuple

import numpy as np

from samurai.calibration_tracks import box_files, dataset_tracks, read_box_file
from samurai.errors import UserError
from samurai_core.motion_models import MOTION_MODELS


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
    from samurai.dataset_kinds import KINDS

    p.add_argument("--kind", choices=KINDS, help="dataset layout (default: detected)")
    p.add_argument("--split", help="dataset split to use: train, val or test (default: all)")
    p.add_argument(
        "--label", type=int, default=1, help="mask label whose box is tracked (default: 1, the LV)"
    )
    p.add_argument(
        "--motion-model",
        choices=MOTION_MODELS,
        default="xyah",
        help="Kalman state: xyah (official SAMURAI), xywh or xyxy (default: xyah)",
    )
    p.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="fraction of tracks held out for the report; 0 reports on the fit set (default: 0.2)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fit / held-out split (default: 0)")
    p.add_argument("--steps", type=int, default=200, help="maximum number of Adam steps (default: 200)")
    p.add_argument(
        "--lr", type=float, default=0.1, help="Adam learning rate, log-weight units (default: 0.1)"
    )
    p.add_argument(
        "-o", "--out", default="noise.json", help="calibration file to write (default: noise.json)"
    )
    p.add_argument(
        "--report", default=None, help="report JSON to write (default: OUT with the suffix .report.json)"
    )
    p.set_defaults(run=run)


def _split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_hold = 0 if holdout == 0 else max(1, int(round(holdout * n)))
    if n - n_hold < 1:
        raise UserError(
            f"{n} usable track(s) cannot be split with --holdout {holdout}; give more tracks or "
            "use --holdout 0 (report on the fit set)"
        )
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])


def _report_path(args) -> Path:
    return Path(args.report) if args.report else Path(args.out).with_suffix(".report.json")


def _check_output_file(path: Path, option: str) -> None:
    """Raise UserError unless ``path`` can be written as a file (checked before the fit; missing
    folders are made when it is written)."""
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name, e.g. {path / 'noise.json'}")
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{option} {path}: {folder} is a file, not a folder; choose another path")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(
            f"{option} {path} cannot be written (permission denied in {folder}); choose a path in a writable folder"
        )


def run(args) -> int:
    from samurai.formats import save_calibration, write_json
    from samurai_core.calibrate import Calibration

    _check_args(args)
    tracks = _read_tracks(args)
    usable = [t for t in tracks if t[2].sum() >= 2]
    if len(usable) < len(tracks):
        print(f"skipped {len(tracks) - len(usable)} track(s) with fewer than 2 present boxes")
    if not usable:
        raise UserError("no track has 2 or more present boxes; nothing to fit")
    fit_idx, hold_idx = _split(len(usable), args.holdout, args.seed)
    eval_idx = hold_idx if len(hold_idx) else fit_idx
    result = _fit_and_score(args, [usable[i] for i in fit_idx], [usable[i] for i in eval_idx])

    out = Path(args.out)
    provenance = _provenance(args, result, n_held_out=len(hold_idx))
    save_calibration(out, Calibration(args.motion_model, result.fitted, provenance))
    report_path = _report_path(args)
    names = [t[0] for t in usable]
    evaluated_on = "held-out" if len(hold_idx) else "fit (no held-out tracks)"
    report = {
        "motion_model": args.motion_model,
        "calibration": str(out),
        "evaluated_on": evaluated_on,
        "fit": {
            "sequences": [names[i] for i in fit_idx],
            "frames": result.history.n_frames,
            "nll_before": result.history.nll_before,
            "nll_after": result.history.nll_after,
            "steps": result.history.steps,
            "converged": result.history.converged,
        },
        "eval": {
            "sequences": [names[i] for i in eval_idx],
            "frames": result.after.n_frames,
            "default": result.before._asdict(),
            "calibrated": result.after._asdict(),
        },
        "noise": {"default": result.init._asdict(), "calibrated": result.fitted._asdict()},
        "skipped_tracks": [t[0] for t in tracks if t[2].sum() < 2],
    }
    write_json(report_path, report)
    print(
        f"{len(usable)} tracks: {len(fit_idx)} fit, {len(hold_idx)} held out; motion model "
        f"{args.motion_model}"
    )
    _print_result(args.motion_model, result, f"{evaluated_on} ({len(eval_idx)} tracks")
    print(f"wrote {out} and {report_path}")
    return 0


def _check_args(args) -> None:
    """Refuse bad options before any file is read."""
    if not 0.0 <= args.holdout < 1.0:
        raise UserError(f"--holdout {args.holdout} must lie in [0, 1)")
    if args.steps < 1:
        raise UserError(f"--steps {args.steps} must be >= 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UserError(f"--lr {args.lr} must be a positive number")
    if not args.boxes and not args.dataset:
        raise UserError("give box files / folders of groundtruth.txt, or --dataset FOLDER")
    _check_output_file(Path(args.out), "-o/--out")
    _check_output_file(_report_path(args), "--report")


def _read_tracks(args) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, boxes_xyxy [T, 4], present [T])`` of every box file, then of the dataset."""
    tracks = []
    for path in box_files(args.boxes):
        boxes, present = read_box_file(path)
        tracks.append((str(path), boxes, present))
    if args.dataset:
        tracks.extend(dataset_tracks(args.dataset, args.kind, args.split, args.label))
    return tracks


class _Fit(NamedTuple):
    init: Any  # NoiseParams: the default weights
    fitted: Any  # NoiseParams
    history: Any  # samurai_core.FitHistory
    before: Any  # samurai_core.MotionScore of the default weights on the evaluation tracks
    after: Any  # the same for the fitted weights


def _fit_and_score(args, fit_tracks, eval_tracks) -> _Fit:
    """Fit the noise weights on ``fit_tracks``; score default and fitted on ``eval_tracks``."""
    from samurai_core.calibrate import fit_noise, pad_tracks, score_noise
    from samurai_core.types import NoiseParams

    fit_boxes, fit_valid = pad_tracks([t[1] for t in fit_tracks], [t[2] for t in fit_tracks])
    eval_boxes, eval_valid = pad_tracks([t[1] for t in eval_tracks], [t[2] for t in eval_tracks])
    init = NoiseParams()
    try:
        fitted, history = fit_noise(
            fit_boxes, fit_valid, args.motion_model, init, steps=args.steps, learning_rate=args.lr
        )
    except (ValueError, FloatingPointError) as err:
        raise UserError(str(err)) from None
    before = score_noise(args.motion_model, init, eval_boxes, eval_valid)
    after = score_noise(args.motion_model, fitted, eval_boxes, eval_valid)
    return _Fit(init, fitted, history, before, after)


def _provenance(args, result: _Fit, n_held_out: int) -> dict:
    """What the calibration file records about its data and fit."""
    from samurai_core.calibrate import FREE_FIELDS

    history = result.history
    data = list(args.boxes) + ([f"dataset {args.dataset} label {args.label}"] if args.dataset else [])
    return {
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
            "n_sequences": int(n_held_out),
            "nll_before": result.before.nll_per_frame,
            "nll_after": result.after.nll_per_frame,
            "prediction_iou_before": result.before.prediction_iou,
            "prediction_iou_after": result.after.prediction_iou,
        },
    }


def _print_result(motion_model: str, result: _Fit, evaluated: str) -> None:
    from samurai_core.calibrate import FREE_FIELDS

    history, before, after = result.history, result.before, result.after
    print(
        f"fit: {history.steps} Adam steps{' (converged)' if history.converged else ''}, "
        f"NLL/frame {history.nll_before:.4f} -> {history.nll_after:.4f} on {history.n_frames} frames"
    )
    print(f"{evaluated}, {after.n_frames} frames)   default  calibrated")
    print(f"  NLL per frame                {before.nll_per_frame:10.4f} {after.nll_per_frame:10.4f}")
    print(f"  one-step prediction IoU      {before.prediction_iou:10.4f} {after.prediction_iou:10.4f}")
    print("noise weights (default -> calibrated):")
    for name in FREE_FIELDS[motion_model]:
        print(f"  {name:24s} {getattr(result.init, name):.4g} -> {getattr(result.fitted, name):.4g}")
