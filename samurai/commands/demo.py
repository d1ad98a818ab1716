"""``samurai demo``: SAMURAI and its two halves against vanilla SAM 2's rule on an echo phantom.

The phantom tracker runs four ways: vanilla (argmax of the predicted quality, the last frames
in memory), motion scoring only, memory selection only, and both (SAMURAI), so the printout
and the figures show what each half of SAMURAI does on its own.

Runs with no checkpoint and without torch: the default path imports NumPy, JAX, the core,
``samurai_phantom``, Pillow and matplotlib only. With ``--checkpoint`` it also runs SAM 2
(vanilla and SAMURAI) on the same phantom.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from samurai.errors import UserError
from samurai.predictors import HF_PREFIX

# Phantom tracker variants: method name -> samurai_phantom.VARIANTS key.
PHANTOM_METHODS = {
    "vanilla": "vanilla",
    "motion-only": "motion",
    "memory-only": "memory",
    "samurai": "samurai",
}
SAM2_METHODS = ("vanilla", "samurai")
LOST_DICE = 0.1  # a track is "lost" when its Dice on the last frame is below this
# The LV fades at frames 23-28 and the RV drops out at frames 33-38, after SAMURAI's 15 stable
# frames; 44 frames leave five to see who comes back. Shorter clips are a smoke check of the
# pipeline (no events, so nothing separates the methods).
SCENARIO_FRAMES = 44
MIN_FRAMES = 3
# One colour per method in every plot (the overlays colour chambers, not methods).
METHOD_COLOURS = ("tab:red", "tab:orange", "tab:purple", "tab:blue", "tab:brown", "tab:green")


def add_parser(sub) -> None:
    from samurai.commands.arguments import add_model_arguments, add_motion_arguments

    p = sub.add_parser(
        "demo",
        help="track the chambers of a synthetic echo phantom: vanilla vs SAMURAI and its two halves",
        description=(
            "Generate a synthetic apical four-chamber echo PHANTOM (beating chambers, speckle, "
            "look-alike neighbours around the LV, an LV that fades for a few frames, an RV that "
            "drops out for a few frames, fast contraction), track its chambers four ways "
            "(vanilla argmax choice with the last frames in memory, SAMURAI's motion scoring "
            "only, its memory selection only, both) and write overlays, metrics against the "
            "phantom's ground truth and the LV area / EF read-out. Needs no checkpoint and no "
            "torch."
        ),
    )
    p.add_argument("--out", default="samurai_demo", help="output folder (default: samurai_demo)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output folder written by samurai (or an empty one)")
    p.add_argument(
        "--frames",
        type=int,
        default=48,
        help=f"phantom length (default: 48); under {SCENARIO_FRAMES} there is no fade or dropout "
        "and nothing separates the methods: a quick check only (e.g. of --checkpoint)",
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
    from samurai_phantom import VARIANTS, PhantomSegmenter, make_phantom, track
    from samurai.predictors import samurai_config
    from samurai.output import OutputDir
    from samurai.provenance import fingerprint

    if args.frames < MIN_FRAMES:
        raise UserError(f"--frames {args.frames} is too short; use --frames {MIN_FRAMES} or more "
                       f"(the scenario needs {SCENARIO_FRAMES})")
    if not 64 <= args.size <= 512:
        raise UserError(f"--size {args.size} is out of range; use 64 to 512 pixels")
    if args.scale < 1 or args.scale > 8:
        raise UserError(f"--scale {args.scale} is out of range; use 1 to 8")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise UserError(f"checkpoint {args.checkpoint} does not exist; pass the path of a SAM 2 .pt file")
    cfg = samurai_config("tiny", args.noise, args.motion_model)

    t0 = time.perf_counter()
    with OutputDir(args.out, force=args.force) as out:
        short = args.frames < SCENARIO_FRAMES
        if short:
            print(f"note: {args.frames} frames is shorter than the scenario ({SCENARIO_FRAMES}): "
                  "no LV fade, no RV dropout and little or no time for motion scoring, so nothing "
                  "separates the methods; a quick pipeline check only")
        ph = make_phantom(n_frames=args.frames, size=args.size, seed=args.seed,
                          **({"dropout": None, "rv_dropout": None} if short else {}))
        ids = sorted(ph.labels)
        prompts = {k: ph.masks[0] == k for k in ids}
        segmenter = PhantomSegmenter()
        # The candidate regions depend on the frame only: find them once for the four runs.
        regions = [None] + [segmenter.regions(f) for f in ph.frames[1:]]
        runs = {}
        for method, variant in PHANTOM_METHODS.items():
            motion, memory = VARIANTS[variant]
            run_ = track(ph.frames, prompts, cfg, motion=motion, memory=memory,
                         segmenter=segmenter, regions=regions)
            runs[f"phantom-segmenter/{method}"] = (run_.masks, run_)
        if args.checkpoint or args.model.startswith(HF_PREFIX):
            runs.update(_sam2_runs(args, ph, prompts))
        out.info.update(command="demo", argv=getattr(args, "argv", None), data="synthetic phantom",
                        frames=args.frames, size=args.size, seed=args.seed, noise=args.noise,
                        noise_sha256=fingerprint(args.noise), motion_model=cfg.motion_model,
                        checkpoint=args.checkpoint, checkpoint_sha256=fingerprint(args.checkpoint),
                        model=args.model if args.checkpoint or args.model.startswith(HF_PREFIX) else None, image_size=args.image_size)
        summary = _write_outputs(out.path, ph, runs, args)
    elapsed = time.perf_counter() - t0
    _print_summary(summary, args.out, elapsed)
    return 0


def _sam2_runs(args, ph, prompts) -> dict:
    """SAM 2 on the phantom (vanilla and SAMURAI); masks bool [T, B, H, W] per method."""
    import numpy as np

    from samurai.predictors import build_predictor
    from samurai.tracking import sam2_track

    rgb = np.repeat(ph.frames[..., None], 3, axis=3)
    predictor = build_predictor(
        args.model, args.checkpoint, args.device, args.image_size,
        samurai=True, adapter=None, random_weights=False,
        noise=args.noise, motion_model=args.motion_model,
    )
    ids = sorted(prompts)
    mask_prompts = {k: ("mask", prompts[k]) for k in ids}
    runs = {}
    for method in SAM2_METHODS:
        masks = np.zeros((len(ph.frames), len(ids)) + ph.frames.shape[1:], bool)
        for t, frame_masks, _ in sam2_track(predictor, rgb, mask_prompts, samurai=method == "samurai"):
            for i, k in enumerate(ids):
                masks[t, i] = frame_masks.get(k, masks[t, i])
        runs[f"{_model_label(args.model)}/{method}"] = (masks, None)
    return runs


def _model_label(model: str) -> str:
    """The method prefix of a model's runs: ``sam2-tiny``, or ``hf-<folder name>``."""
    if model.startswith(HF_PREFIX):
        return f"hf-{Path(model[len(HF_PREFIX):]).name}"
    return f"sam2-{model}"


def _lost(d) -> bool:
    return bool(d[-1] < LOST_DICE)


def _events(ph) -> dict[str, list[int]]:
    """The phantom's scripted events: label -> frames (for shading plots and captions)."""
    events = {"LV fades": ph.meta["dropout_frames"], "RV drops out": ph.meta["rv_dropout_frames"]}
    return {label: frames for label, frames in events.items() if frames}


def _write_outputs(folder, ph, runs, args) -> dict:
    """Write every file of the demo into ``folder``; returns the summary it wrote."""
    import numpy as np

    from samurai.eval.report import format_table
    from samurai.formats import write_csv
    from samurai.output import atomic_write_text
    from samurai.video_writers import mp4_available

    ids = sorted(ph.labels)
    gt = np.stack([ph.masks == k for k in ids], axis=1)  # [T, B, H, W]
    dice_t = _dice_per_frame(runs, gt)
    rows = _dice_rows(ph, dice_t)
    ef_rows = _ef_rows(ph, runs, gt)
    write_csv(folder / "metrics.csv", rows)
    write_csv(folder / "per_frame.csv", _per_frame_rows(ph, runs, dice_t),
              fieldnames=["frame", "method", "chamber", "dice", "chosen", "predicted_quality",
                          "object_score", "motion_iou", "stable_frames", "memory_frames"])
    write_csv(folder / "lv_ef.csv", ef_rows)
    _write_plots(folder, ph, runs, gt, dice_t, rows)
    _write_overlays(folder, ph, runs, args.scale)

    summary = {
        "data": "synthetic echo phantom (not patient data)",
        "frames": len(ph.frames),
        "size": list(ph.frames.shape[1:]),
        "seed": args.seed,
        "dropout_frames": ph.meta["dropout_frames"],
        "rv_dropout_frames": ph.meta["rv_dropout_frames"],
        "true_ef_ellipsoid": ph.meta["ef"],
        "dice": rows,
        "lv_ef": ef_rows,
        "table": _pivot_table(rows, [ph.labels[k] for k in ids], list(runs)),
        "ef_table": format_table(ef_rows, ["method", "ed_frame", "es_frame", "ef_area_length", "ef_error"]),
        "mp4": mp4_available(),
    }
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2, default=_json) + "\n")
    return summary


def _dice_per_frame(runs, gt) -> dict:
    """Method -> Dice float [T, B] against the phantom's truth ``gt`` (bool [T, B, H, W])."""
    import numpy as np

    from samurai.eval.metrics import dice

    n_t, b = gt.shape[:2]
    return {
        name: np.array([[dice(masks[t, i], gt[t, i]) for i in range(b)] for t in range(n_t)])
        for name, (masks, _) in runs.items()
    }


def _dice_rows(ph, dice_t) -> list[dict]:
    """One row per method and chamber (chambers in label order: LV, LA, RV, RA); frame 0, the
    prompt, is not scored."""
    ids = sorted(ph.labels)
    return [
        {
            "method": name,
            "chamber": ph.labels[k],
            "mean_dice": d[1:, i].mean(),
            "min_dice": d[1:, i].min(),
            "frames_dice_below_0.5": int((d[1:, i] < 0.5).sum()),
            "lost": _lost(d[:, i]),
        }
        for name, d in dice_t.items()
        for i, k in enumerate(ids)
    ]


def _per_frame_rows(ph, runs, dice_t) -> list[dict]:
    """Dice per frame, method and chamber, with the core's decisions for the phantom tracker."""
    ids = sorted(ph.labels)
    out = []
    for name, (_, run_) in runs.items():
        d = dice_t[name]
        for t in range(len(ph.frames)):
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
                out.append(rec)
    return out


def _ef_rows(ph, runs, gt) -> list[dict]:
    """Clinical read-out of the LV: truth, and each method's masks (ED/ES = largest/smallest area)."""
    from samurai.eval import clinical

    lv = sorted(ph.labels).index(1)
    truth = clinical.view_readout(gt[:, lv], ph.spacing)
    rows = [{"method": "truth (phantom masks)", "ed_frame": truth.ed_index,
             "es_frame": truth.es_index, "ef_area_length": truth.ef, "ef_error": 0.0}]
    for name, (masks, _) in runs.items():
        try:
            r = clinical.view_readout(masks[:, lv], ph.spacing)
            rows.append({"method": name, "ed_frame": r.ed_index, "es_frame": r.es_index,
                         "ef_area_length": r.ef, "ef_error": r.ef - truth.ef})
        except ValueError:
            rows.append({"method": name, "ed_frame": -1, "es_frame": -1,
                         "ef_area_length": float("nan"), "ef_error": float("nan")})
    return rows


def _short(name: str) -> str:
    return name.replace("phantom-segmenter/", "")


def _write_plots(folder, ph, runs, gt, dice_t, rows) -> None:
    """LV area, Dice per frame of the two chambers with an event, mean Dice per chamber."""
    from samurai.eval import clinical
    from samurai.eval.report import plot_bars, plot_curves

    ids = sorted(ph.labels)
    lv, rv = ids.index(1), ids.index(3)
    colours = {_short(name): c for name, c in zip(runs, METHOD_COLOURS)}
    colours["truth"] = "black"
    events = _events(ph)
    areas = {"truth": clinical.area_curve(gt[:, lv], ph.spacing)}
    areas.update({_short(n): clinical.area_curve(m[:, lv], ph.spacing) for n, (m, _) in runs.items()})
    truth = clinical.view_readout(gt[:, lv], ph.spacing)
    plot_curves(
        folder / "lv_area.png",
        areas,
        "PHANTOM - LV area over time (ED/ES of the truth marked)",
        "frame", "LV area (mm²)",
        marks={"ED": [truth.ed_index], "ES": [truth.es_index]}, shade=events, colors=colours,
    )
    for chamber, i in (("LV", lv), ("RV", rv)):
        plot_curves(
            folder / f"{chamber.lower()}_dice.png",
            {_short(name): d[:, i] for name, d in dice_t.items()},
            f"PHANTOM - {chamber} Dice per frame", "frame", "Dice", shade=events, colors=colours,
        )
    plot_bars(
        folder / "dice_per_chamber.png",
        {_short(name): {r["chamber"]: r["mean_dice"] for r in rows if r["method"] == name} for name in runs},
        "PHANTOM - mean Dice per chamber", "Dice", colors=colours,
    )


def _write_overlays(folder, ph, runs, scale) -> None:
    """overlay.gif (and .mp4 when an encoder is present): truth | each method, side by side,
    labelled as a phantom; stills.png: three frames of it and a legend of the chamber colours."""
    import numpy as np

    from samurai.drawing import overlay
    from samurai.formats import write_png
    from samurai.video_writers import mp4_available, write_gif, write_mp4

    ids = sorted(ph.labels)
    n_t = len(ph.frames)
    events = _events(ph)
    panels = ["truth"] + [_short(name) for name in runs]
    frames_rgb = []
    for t in range(n_t):
        tiles = [overlay(ph.frames[t], ph.masks[t])]
        tiles += [overlay(ph.frames[t], _label_map(masks[t], ids)) for masks, _ in runs.values()]
        note = ", ".join(label for label, frames in events.items() if t in frames)
        frames_rgb.append(_captioned(tiles, panels, t, note, scale))
    write_gif(folder / "overlay.gif", frames_rgb, fps=ph.meta["fps"] / 2)
    if mp4_available():
        write_mp4(folder / "overlay.mp4", frames_rgb, fps=ph.meta["fps"] / 2)
    # The middle of each event and the last frame (who came back); a short clip: start, middle, end.
    picks = [f[len(f) // 2] for f in events.values()] or [0, n_t // 2]
    stills = sorted({f for f in [*picks, n_t - 1] if 0 <= f < n_t})
    legend = _chamber_legend(ph.labels, frames_rgb[0].shape[1])
    write_png(folder / "stills.png", np.concatenate([frames_rgb[f] for f in stills] + [legend], axis=0))


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


def _captioned(tiles, titles, t, note, scale):
    """Tiles side by side, upscaled, with a caption bar naming each panel, the frame and the
    phantom's event on it (``note``, empty for none)."""
    import numpy as np
    from PIL import Image, ImageDraw

    row = np.concatenate(tiles, axis=1)
    row = np.kron(row, np.ones((scale, scale, 1), np.uint8)) if scale > 1 else row
    tile_w = row.shape[1] // len(tiles)
    bar = Image.new("RGB", (row.shape[1], 38), (0, 0, 0))
    draw = ImageDraw.Draw(bar)
    for i, title in enumerate(titles):
        draw.text((i * tile_w + 4, 1), title, fill=(255, 255, 255))
        draw.text((i * tile_w + 4, 13), f"PHANTOM f{t}", fill=(170, 170, 170))
        draw.text((i * tile_w + 4, 25), note, fill=(255, 200, 0))
    return np.concatenate([np.asarray(bar), row], axis=0)


def _chamber_legend(labels, width):
    """A bar naming each chamber's overlay colour (the overlays' palette, by label id)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from samurai.drawing import PALETTE

    bar = Image.new("RGB", (width, 16), (0, 0, 0))
    draw = ImageDraw.Draw(bar)
    x = 4
    for k, name in sorted(labels.items()):
        colour = tuple(int(c) for c in PALETTE[(k - 1) % len(PALETTE)])
        draw.rectangle((x, 3, x + 10, 12), fill=colour)
        draw.text((x + 14, 2), name, fill=(255, 255, 255))
        x += 50
    return np.asarray(bar)


def _pivot_table(rows, chambers, methods) -> str:
    """Mean Dice with chambers as rows and methods as columns; ``lost`` tracks marked ``*``."""
    from samurai.eval.report import format_table

    cell = {(r["method"], r["chamber"]): f"{r['mean_dice']:.3f}" + ("*" if r["lost"] else " ")
            for r in rows}
    table = [{"chamber": c, **{_short(m): cell[(m, c)] for m in methods}} for c in chambers]
    return format_table(table, ["chamber", *(_short(m) for m in methods)])


def _print_summary(summary, out, elapsed) -> None:
    print("samurai demo - synthetic echo PHANTOM (not patient data)")
    events = []
    if summary["dropout_frames"]:
        f = summary["dropout_frames"]
        events.append(f"the LV fades on frames {f[0]}-{f[-1]} "
                      "(its neighbours, LA below and RV beside, look alike)")
    if summary["rv_dropout_frames"]:
        f = summary["rv_dropout_frames"]
        events.append(f"the RV drops out on frames {f[0]}-{f[-1]}")
    print(f"  {summary['frames']} frames; " + ("; ".join(events) if events else "no events (short clip)"))
    print("  methods: vanilla = argmax predicted quality, the last 6 frames in memory (SAM 2's rule);")
    print("  motion-only = SAMURAI's motion-aware choice; memory-only = SAMURAI's memory selection;")
    print("  samurai = both")
    print()
    print("Mean Dice against the phantom's ground truth (* = lost: Dice < 0.1 on the last frame):")
    print(summary["table"])
    print()
    print(f"LV ejection fraction, area-length, ED/ES = largest/smallest LV area "
          f"(ellipsoid truth {summary['true_ef_ellipsoid']:.1f} %):")
    print(summary["ef_table"])
    print()
    mp4 = "overlay.mp4, " if summary["mp4"] else ""
    print(f"wrote {out}/: overlay.gif, {mp4}stills.png, lv_area.png, lv_dice.png, rv_dice.png, "
          "dice_per_chamber.png, metrics.csv, per_frame.csv, lv_ef.csv, summary.json, manifest.json")
    print(f"done in {elapsed:.1f} s")
    sys.stdout.flush()
