"""``samurai track``: segment and track objects through a video with SAM 2 + SAMURAI.

Writes, into ``--out`` (atomically: a ``.partial-*`` folder renamed at the end, manifest last):
``masks/NNNNN.png`` (pixel value = object id), ``boxes/obj_<id>.txt`` (LaSOT ``x,y,w,h`` per
frame), ``scores.csv`` (per frame and object: predicted IoU, object score, motion IoU, chosen
candidate, memory frames), ``overlay.mp4`` (when an encoder is installed), ``overlay.gif``,
``masks.nii.gz`` (the label video with its spacing and frame time) and, for a DICOM input with
named chambers, ``seg.dcm`` (a DICOM Segmentation); ``manifest.json`` records the source's
units, frame time and hashed study (docs/dicom.md).
"""

from __future__ import annotations

from pathlib import Path

from samurai.commands.arguments import (
    add_model_arguments,
    add_motion_arguments,
    add_random_weights_arguments,
    add_source_arguments,
    add_speed_arguments,
)
from samurai.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "track",
        help="track objects through a video (SAM 2 + SAMURAI)",
        description=(
            "Track one or more objects through a video file (mp4/avi, ultrasound DICOM) or a "
            "folder of frames, prompted on the first frame by boxes or a label mask. Frames are "
            "streamed. Many videos (a folder of video or DICOM files, a DICOMDIR, or a .txt "
            "list) get one output folder each, "
            "sharded over the ranks under torchrun and resumed when run again."
        ),
    )
    p.add_argument(
        "video",
        help="video file (mp4, avi, DICOM cine, ...) or folder of frames; or, "
        "for many videos, a folder of video or DICOM files, a DICOMDIR, "
        "or a .txt file listing one per line",
    )
    p.add_argument(
        "--box",
        action="append",
        default=[],
        metavar="X1,Y1,X2,Y2",
        help="first-frame box of one object in pixels; repeat for several objects (ids 1, 2, ...)",
    )
    p.add_argument(
        "--mask",
        metavar="PNG",
        help="first-frame label mask (single-channel PNG, pixel value = object id, 0 = background)",
    )
    p.add_argument(
        "--boxes",
        metavar="CSV",
        help="many videos: first-frame boxes, a CSV with columns video,obj_id,x1,y1,x2,y2",
    )
    p.add_argument(
        "--masks", metavar="DIR", help="many videos: first-frame label masks, DIR/<video name>.png per video"
    )
    p.add_argument(
        "--names",
        metavar="NAMES",
        help="what the --box/--mask objects are (comma-separated, ids 1, 2, ... in "
        "order, e.g. lv,la): recorded in manifest.json; lv, la, rv and ra become "
        "the segments of seg.dcm for a DICOM input",
    )
    p.add_argument(
        "--view", metavar="VIEW", help="the echo view (A4C, A2C, ...), recorded for `samurai report`"
    )
    add_source_arguments(p)
    p.add_argument(
        "--chambers",
        metavar="NAMES",
        help="no box: find these structures (comma-separated, e.g. lv,la,rv,ra) with "
        "--prompter and track each one found (ids 1, 2, ... in this order); with "
        "the learned prompter lost ones are re-seeded",
    )
    from samurai.prompters import available_prompters

    p.add_argument(
        "--prompter",
        help="what finds --chambers: a registered prompter "
        f"({', '.join(available_prompters())}; default: learned, the class prompts of "
        "an --adapter trained with `samurai train --prompts learned`)",
    )
    p.add_argument(
        "--lost-frames",
        type=int,
        default=3,
        metavar="K",
        help="with --chambers and the learned prompter: frames of low object score (or a "
        "reset motion track) before a chamber is looked for again (default: 3)",
    )
    p.add_argument("--prompter-model", metavar="DIR", help="the prompter's model folder")
    p.add_argument("--prompter-adapter", metavar="DIR", help="the prompter's LoRA adapter folder")
    p.add_argument("--checkpoint", help="SAM 2 checkpoint (.pt, official format)")
    add_model_arguments(p)
    add_speed_arguments(p)
    p.add_argument("--adapter", help="LoRA adapter folder written by `samurai train`")
    p.add_argument("--vanilla", action="store_true", help="plain SAM 2 (SAMURAI off)")
    add_motion_arguments(p)
    p.add_argument("--out", default=None, help="output folder (default: <video name>_track)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output folder written by samurai (or an empty one)",
    )
    add_random_weights_arguments(p)
    p.add_argument("--no-video", action="store_true", help="skip the overlay MP4/GIF")
    p.set_defaults(run=run)


def run(args) -> int:
    from samurai.api import track
    from samurai.dicom.privacy import redact_argv
    from samurai.predictors import is_untrained
    from samurai.tracking import TRACK_DONE, report_empty, report_frames_read

    args.argv = redact_argv(getattr(args, "argv", None))  # the manifest records it
    video = Path(args.video)
    if not video.exists():
        raise UserError(
            f"video {video} does not exist; pass a video file (mp4/avi, DICOM) or a folder of frames"
        )
    from samurai.track_many import is_many, run_many

    if is_many(video):
        return run_many(args)
    if args.boxes or args.masks:
        raise UserError(
            "--boxes / --masks prompt many videos (a folder of videos or a .txt list); "
            "prompt one video with --box X1,Y1,X2,Y2 or --mask PNG"
        )
    result = track(
        video,
        boxes=args.box,
        masks=args.mask or None,
        chambers=args.chambers or None,
        model=args.model,
        checkpoint=args.checkpoint,
        adapter=args.adapter,
        samurai=not args.vanilla,
        noise=args.noise,
        motion_model=args.motion_model,
        device=args.device,
        image_size=args.image_size,
        random_weights=args.random_weights,
        seed=args.seed,
        prompter=args.prompter,
        prompter_model=args.prompter_model,
        prompter_adapter=args.prompter_adapter,
        lost_frames=args.lost_frames,
        names=args.names,
        view=args.view,
        spacing=args.spacing,
        study_salt=args.study_salt,
        batch_objects=args.batch_objects,
        compile=args.compile,
        dtype=args.dtype,
    )
    out_dir = Path(args.out) if args.out else Path(f"{video.stem or video.name}_track")
    saved = result.save(
        out_dir, force=args.force, video_overlay=not args.no_video, argv=getattr(args, "argv", None)
    )
    report_frames_read(str(video), result.source, saved.frames, TRACK_DONE)
    report_empty(saved.found, saved.frames, is_untrained(args.model, args.checkpoint))
    print(
        f"wrote {out_dir}/ ({saved.frames} frames, {len(saved.found)} object(s)): masks/, boxes/, "
        "scores.csv, "
        + ", ".join(saved.exports)
        + ("" if args.no_video else ", overlay.gif" + (", overlay.mp4" if saved.mp4 else ""))
    )
    if args.chambers:  # the chamber read-out beside the run (docs/clinical.md)
        from samurai.clinical.report import report_after_track

        print(report_after_track(out_dir, force=args.force))
    return 0
