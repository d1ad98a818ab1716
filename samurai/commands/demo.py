"""``samurai demo``: SAMURAI and its two halves against vanilla SAM 2's rule on an echo phantom.

The phantom tracker runs four ways: vanilla (argmax of the predicted quality, the last frames
in memory), motion scoring only, memory selection only, and both (SAMURAI), so the printout
and the figures show what each half of SAMURAI does on its own.

Runs with no checkpoint and without torch: the default path imports NumPy, JAX, the core,
``samurai_phantom``, Pillow and matplotlib only. With ``--checkpoint`` it also runs SAM 2
(vanilla and SAMURAI) on the same phantom.
"""

from __future__ import annotations

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
# The LV fades at frames 23-28 and the RV drops out at frames 33-38, after SAMURAI's 15 stable
# frames; 44 frames leave five to see who comes back. Shorter clips are a smoke check of the
# pipeline (no events, so nothing separates the methods).
SCENARIO_FRAMES = 44
MIN_FRAMES = 3


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
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output folder written by samurai (or an empty one)",
    )
    p.add_argument(
        "--frames",
        type=int,
        default=48,
        help=f"phantom length (default: 48); under {SCENARIO_FRAMES} there is no fade or dropout "
        "and nothing separates the methods: a quick check only (e.g. of --checkpoint)",
    )
    p.add_argument(
        "--size",
        type=int,
        default=128,
        help="phantom width and height in pixels (default: 128, where the scenario is tuned)",
    )
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
    from samurai.output import OutputDir
    from samurai.phantom_demo import write_outputs
    from samurai.predictors import samurai_config
    from samurai.provenance import fingerprint
    from samurai_phantom import VARIANTS, PhantomSegmenter, make_phantom, track

    if args.frames < MIN_FRAMES:
        raise UserError(
            f"--frames {args.frames} is too short; use --frames {MIN_FRAMES} or more "
            f"(the scenario needs {SCENARIO_FRAMES})"
        )
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
            print(
                f"note: {args.frames} frames is shorter than the scenario ({SCENARIO_FRAMES}): "
                "no LV fade, no RV dropout and little or no time for motion scoring, so nothing "
                "separates the methods; a quick pipeline check only"
            )
        ph = make_phantom(
            n_frames=args.frames,
            size=args.size,
            seed=args.seed,
            **({"dropout": None, "rv_dropout": None} if short else {}),
        )
        ids = sorted(ph.labels)
        prompts = {k: ph.masks[0] == k for k in ids}
        segmenter = PhantomSegmenter()
        # The candidate regions depend on the frame only: find them once for the four runs.
        regions = [None] + [segmenter.regions(f) for f in ph.frames[1:]]
        runs = {}
        for method, variant in PHANTOM_METHODS.items():
            motion, memory = VARIANTS[variant]
            run_ = track(
                ph.frames, prompts, cfg, motion=motion, memory=memory, segmenter=segmenter, regions=regions
            )
            runs[f"phantom-segmenter/{method}"] = (run_.masks, run_)
        if args.checkpoint or args.model.startswith(HF_PREFIX):
            runs.update(_sam2_runs(args, ph, prompts))
        out.info.update(
            command="demo",
            argv=getattr(args, "argv", None),
            data="synthetic phantom",
            frames=args.frames,
            size=args.size,
            seed=args.seed,
            noise=args.noise,
            noise_sha256=fingerprint(args.noise),
            motion_model=cfg.motion_model,
            checkpoint=args.checkpoint,
            checkpoint_sha256=fingerprint(args.checkpoint),
            model=args.model if args.checkpoint or args.model.startswith(HF_PREFIX) else None,
            image_size=args.image_size,
        )
        summary = write_outputs(out.path, ph, runs, args.scale, args.seed)
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
        args.model,
        args.checkpoint,
        args.device,
        args.image_size,
        samurai=True,
        adapter=None,
        random_weights=False,
        noise=args.noise,
        motion_model=args.motion_model,
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
        return f"hf-{Path(model[len(HF_PREFIX) :]).name}"
    return f"sam2-{model}"


def _print_summary(summary, out, elapsed) -> None:
    print("samurai demo - synthetic echo PHANTOM (not patient data)")
    events = []
    if summary["dropout_frames"]:
        f = summary["dropout_frames"]
        events.append(
            f"the LV fades on frames {f[0]}-{f[-1]} (its neighbours, LA below and RV beside, look alike)"
        )
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
    print(
        f"LV ejection fraction, area-length, ED/ES = largest/smallest LV area "
        f"(ellipsoid truth {summary['true_ef_ellipsoid']:.1f} %):"
    )
    print(summary["ef_table"])
    print()
    mp4 = "overlay.mp4, " if summary["mp4"] else ""
    print(
        f"wrote {out}/: overlay.gif, {mp4}stills.png, lv_area.png, lv_dice.png, rv_dice.png, "
        "dice_per_chamber.png, metrics.csv, per_frame.csv, lv_ef.csv, summary.json, manifest.json"
    )
    print(f"done in {elapsed:.1f} s")
    sys.stdout.flush()
