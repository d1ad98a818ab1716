"""``samurai demo``: SAMURAI against plain argmax choice on a synthetic echo phantom.

Runs with no checkpoint and without torch: the default path imports NumPy, JAX, the core,
``samurai_phantom``, Pillow and matplotlib only. With ``--checkpoint`` it also runs SAM 2
(vanilla and SAMURAI) on the same phantom.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from samurai.cli import CLIError

METHODS = ("vanilla", "samurai")
LOST_DICE = 0.1  # a track is "lost" when its Dice on the last frame is below this
# The LV fades at frames 23-28, after SAMURAI's 15 stable frames; shorter clips are a smoke
# check of the pipeline (no fade, and the two choices cannot differ yet).
SCENARIO_FRAMES = 32
MIN_FRAMES = 3


def add_parser(sub) -> None:
    from samurai.commands.track import add_model_arguments, add_motion_arguments

    p = sub.add_parser(
        "demo",
        help="track the chambers of a synthetic echo phantom: vanilla vs SAMURAI",
        description=(
            "Generate a synthetic apical four-chamber echo PHANTOM (beating chambers, speckle, "
            "look-alike neighbours around the LV, an LV that fades for a few frames, fast "
            "contraction), track its chambers with SAMURAI and with plain argmax choice, and "
            "write overlays, metrics against the phantom's ground truth and the LV area / EF "
            "read-out. Needs no checkpoint and no torch."
        ),
    )
    p.add_argument("--out", default="samurai_demo", help="output folder (default: samurai_demo)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")
    p.add_argument(
        "--frames",
        type=int,
        default=48,
        help=f"phantom length (default: 48); under {SCENARIO_FRAMES} there is no fade and the "
        "methods cannot differ: a quick check only (e.g. of --checkpoint)",
    )
    p.add_argument("--size", type=int, default=128, help="phantom width and height in pixels (default: 128, where the scenario is tuned)")
    p.add_argument("--seed", type=int, default=0, help="speckle seed of the phantom (default: 0)")
    p.add_argument("--scale", type=int, default=2, help="upscaling of the overlay GIF/MP4 (default: 2)")
    p.add_argument(
        "--checkpoint",
        help="also run SAM 2 (vanilla and SAMURAI) from this checkpoint (needs torch and sam2)",
    )
    add_model_arguments(p)
    add_motion_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from samurai_phantom import make_phantom, track
    from samurai.commands.track import samurai_config
    from samurai.io import OutputDir

    if args.frames < MIN_FRAMES:
        raise CLIError(f"--frames {args.frames} is too short; use --frames {MIN_FRAMES} or more "
                       f"(the scenario needs {SCENARIO_FRAMES})")
    if not 64 <= args.size <= 512:
        raise CLIError(f"--size {args.size} is out of range; use 64 to 512 pixels")
    if args.scale < 1 or args.scale > 8:
        raise CLIError(f"--scale {args.scale} is out of range; use 1 to 8")
    if Path(args.out).exists() and not args.force:
        raise CLIError(f"output folder {args.out} already exists; pass --force to overwrite it or choose another --out")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise CLIError(f"checkpoint {args.checkpoint} does not exist; pass the path of a SAM 2 .pt file")
    cfg = samurai_config("tiny", args.noise, args.motion_model)

    t0 = time.perf_counter()
    short = args.frames < SCENARIO_FRAMES
    if short:
        print(f"note: {args.frames} frames is shorter than the scenario ({SCENARIO_FRAMES}): "
              "no LV fade and too few frames for motion scoring, so vanilla and SAMURAI "
              "cannot differ; a quick pipeline check only")
    ph = make_phantom(n_frames=args.frames, size=args.size, seed=args.seed,
                      **({"dropout": None} if short else {}))
    ids = sorted(ph.labels)
    prompts = {k: ph.masks[0] == k for k in ids}
    runs = {}
    for method in METHODS:
        run_ = track(ph.frames, prompts, cfg, samurai=method == "samurai")
        runs[f"phantom-segmenter/{method}"] = (run_.masks, run_)
    if args.checkpoint:
        runs.update(_sam2_runs(args, ph, prompts))

    try:
        info = {"command": "demo", "data": "synthetic phantom", "noise": args.noise,
                "motion_model": cfg.motion_model}
        out = OutputDir(args.out, force=args.force, info=info)
    except FileExistsError as err:
        raise CLIError(str(err)) from None
    with out:
        summary = _write_outputs(out.path, ph, runs, args)
    elapsed = time.perf_counter() - t0
    _print_summary(summary, args.out, elapsed)
    return 0


def _sam2_runs(args, ph, prompts) -> dict:
    """SAM 2 on the phantom (vanilla and SAMURAI); masks bool [T, B, H, W] per method."""
    import numpy as np

    from samurai.commands.track import build_predictor, sam2_track

    rgb = np.repeat(ph.frames[..., None], 3, axis=3)
    predictor = build_predictor(
        args.model, args.checkpoint, args.device, args.image_size,
        samurai=True, adapter=None, random_weights=False,
        noise=args.noise, motion_model=args.motion_model,
    )
    ids = sorted(prompts)
    mask_prompts = {k: ("mask", prompts[k]) for k in ids}
    runs = {}
    for method in METHODS:
        masks = np.zeros((len(ph.frames), len(ids)) + ph.frames.shape[1:], bool)
        for t, frame_masks, _ in sam2_track(predictor, rgb, mask_prompts, samurai=method == "samurai"):
            for i, k in enumerate(ids):
                masks[t, i] = frame_masks.get(k, masks[t, i])
        runs[f"sam2-{args.model}/{method}"] = (masks, None)
    return runs


def _lost(d) -> bool:
    return bool(d[-1] < LOST_DICE)


def _write_outputs(folder, ph, runs, args) -> dict:
    import numpy as np

    from samurai.eval import clinical
    from samurai.eval.metrics import dice
    from samurai.eval.report import format_table, plot_bars, plot_curves
    from samurai.io import overlay, write_csv, write_gif, write_mp4, mp4_available, write_png

    ids = sorted(ph.labels)
    n_t = len(ph.frames)
    gt = np.stack([ph.masks == k for k in ids], axis=1)  # [T, B, H, W]
    rows, per_frame, dice_t, lv_area = [], [], {}, {}
    for name, (masks, run_) in runs.items():
        d = np.array([[dice(masks[t, i], gt[t, i]) for i in range(len(ids))] for t in range(n_t)])
        dice_t[name] = d
        for i, k in enumerate(ids):
            rows.append(
                {
                    "method": name,
                    "chamber": ph.labels[k],
                    "mean_dice": d[1:, i].mean(),
                    "min_dice": d[1:, i].min(),
                    "frames_dice_below_0.5": int((d[1:, i] < 0.5).sum()),
                    "lost": _lost(d[:, i]),
                }
            )
        lv = ids.index(1)
        lv_area[name] = clinical.area_curve(masks[:, lv], ph.spacing)
        for t in range(n_t):
            for i, k in enumerate(ids):
                rec = {"frame": t, "method": name, "chamber": ph.labels[k], "dice": d[t, i]}
                if run_ is not None:
                    rec.update(
                        chosen=int(run_.chosen[t, i]),
                        predicted_quality=float(run_.aff[t, i]),
                        object_score=float(run_.obj[t, i]),
                        motion_iou=float(run_.kf_iou[t, i]),
                        stable_frames=int(run_.stable[t, i]),
                        memory_frames=" ".join(str(f) for f in run_.memory_frames[t, i] if f >= 0),
                    )
                per_frame.append(rec)

    # Clinical read-out of the LV: truth, and each method's masks (ED/ES = largest/smallest area).
    truth = clinical.view_readout(gt[:, ids.index(1)], ph.spacing)
    ef_rows = [{"method": "truth (phantom masks)", "ed_frame": truth.ed_index,
                "es_frame": truth.es_index, "ef_area_length": truth.ef, "ef_error": 0.0}]
    for name, (masks, _) in runs.items():
        try:
            r = clinical.view_readout(masks[:, ids.index(1)], ph.spacing)
            ef_rows.append({"method": name, "ed_frame": r.ed_index, "es_frame": r.es_index,
                            "ef_area_length": r.ef, "ef_error": r.ef - truth.ef})
        except ValueError:
            ef_rows.append({"method": name, "ed_frame": -1, "es_frame": -1,
                            "ef_area_length": float("nan"), "ef_error": float("nan")})

    write_csv(folder / "metrics.csv", rows)
    write_csv(folder / "per_frame.csv", per_frame,
              fieldnames=["frame", "method", "chamber", "dice", "chosen", "predicted_quality",
                          "object_score", "motion_iou", "stable_frames", "memory_frames"])
    write_csv(folder / "lv_ef.csv", ef_rows)

    dropout = ph.meta["dropout_frames"]
    plot_curves(
        folder / "lv_area.png",
        {"truth": clinical.area_curve(gt[:, ids.index(1)], ph.spacing), **lv_area},
        "PHANTOM - LV area over time (ED/ES of the truth marked)",
        "frame", "LV area (mm²)",
        marks={"ED": [truth.ed_index], "ES": [truth.es_index]}, shade=dropout,
    )
    plot_curves(
        folder / "lv_dice.png",
        {name: d[:, ids.index(1)] for name, d in dice_t.items()},
        "PHANTOM - LV Dice per frame", "frame", "Dice", shade=dropout,
    )
    plot_bars(
        folder / "dice_per_chamber.png",
        {name: {r["chamber"]: r["mean_dice"] for r in rows if r["method"] == name} for name in runs},
        "PHANTOM - mean Dice per chamber", "Dice",
    )

    # Overlays: truth | each method, side by side, labelled as a phantom.
    names = list(runs)
    panels = ["truth"] + names
    frames_rgb = []
    for t in range(n_t):
        tiles = [overlay(ph.frames[t], ph.masks[t])]
        for name in names:
            tiles.append(overlay(ph.frames[t], _label_map(runs[name][0][t], ids)))
        frames_rgb.append(_captioned(tiles, panels, t, t in dropout, args.scale))
    write_gif(folder / "overlay.gif", frames_rgb, fps=ph.meta["fps"] / 2)
    if mp4_available():
        write_mp4(folder / "overlay.mp4", frames_rgb, fps=ph.meta["fps"] / 2)
    picks = (dropout[0] - 3, dropout[len(dropout) // 2], n_t - 1) if dropout else (0, n_t // 2, n_t - 1)
    stills = sorted({f for f in picks if 0 <= f < n_t})
    write_png(folder / "stills.png", np.concatenate([frames_rgb[f] for f in stills], axis=0))

    summary = {
        "data": "synthetic echo phantom (not patient data)",
        "frames": n_t,
        "size": list(ph.frames.shape[1:]),
        "seed": args.seed,
        "dropout_frames": dropout,
        "true_ef_ellipsoid": ph.meta["ef"],
        "dice": rows,
        "lv_ef": ef_rows,
        "table": format_table(rows, ["method", "chamber", "mean_dice", "min_dice", "lost"]),
        "ef_table": format_table(ef_rows, ["method", "ed_frame", "es_frame", "ef_area_length", "ef_error"]),
        "mp4": mp4_available(),
    }
    from samurai.io import atomic_write_text

    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2, default=_json) + "\n")
    return summary


def _json(v):
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _label_map(masks, ids):
    import numpy as np

    # Lower ids (the LV first) are drawn last, on top: a lost LV track shows where it went.
    out = np.zeros(masks.shape[1:], np.uint8)
    for i, k in reversed(list(enumerate(ids))):
        out[masks[i]] = k
    return out


def _captioned(tiles, titles, t, fading, scale):
    """Tiles side by side, upscaled, with a caption bar naming each panel and the frame."""
    import numpy as np
    from PIL import Image, ImageDraw

    row = np.concatenate(tiles, axis=1)
    row = np.kron(row, np.ones((scale, scale, 1), np.uint8)) if scale > 1 else row
    tile_w = row.shape[1] // len(tiles)
    bar = Image.new("RGB", (row.shape[1], 26), (0, 0, 0))
    draw = ImageDraw.Draw(bar)
    for i, title in enumerate(titles):
        draw.text((i * tile_w + 4, 1), title.replace("phantom-segmenter/", ""), fill=(255, 255, 255))
        note = f"PHANTOM f{t}" + (" LV fades" if fading else "")
        draw.text((i * tile_w + 4, 13), note, fill=(255, 200, 0) if fading else (170, 170, 170))
    return np.concatenate([np.asarray(bar), row], axis=0)


def _print_summary(summary, out, elapsed) -> None:
    print("samurai demo - synthetic echo PHANTOM (not patient data)")
    fade = summary["dropout_frames"]
    fades = f"LV fades on frames {fade[0]}-{fade[-1]}" if fade else "no LV fade (short clip)"
    print(f"  {summary['frames']} frames, {fades}; its neighbours (LA below, RV beside) look alike")
    print()
    print("Dice against the phantom's ground truth (lost = Dice < 0.1 on the last frame):")
    print(summary["table"])
    print()
    print(f"LV ejection fraction, area-length, ED/ES = largest/smallest LV area "
          f"(ellipsoid truth {summary['true_ef_ellipsoid']:.1f} %):")
    print(summary["ef_table"])
    print()
    mp4 = "overlay.mp4, " if summary["mp4"] else ""
    print(f"wrote {out}/: overlay.gif, {mp4}stills.png, lv_area.png, lv_dice.png, "
          "dice_per_chamber.png, metrics.csv, per_frame.csv, lv_ef.csv, summary.json")
    print(f"done in {elapsed:.1f} s")
    sys.stdout.flush()
