"""``samurai track``: segment and track objects through a video with SAM 2 + SAMURAI.

Writes, into ``--out`` (atomically: a ``.partial-*`` folder renamed at the end, manifest last):
``masks/NNNNN.png`` (pixel value = object id), ``boxes/obj_<id>.txt`` (LaSOT ``x,y,w,h`` per
frame), ``scores.csv`` (per frame and object: predicted IoU, object score, motion IoU, chosen
candidate, memory frames), ``overlay.mp4`` (when an encoder is installed) and ``overlay.gif``.
"""

from __future__ import annotations

import math
from pathlib import Path

from samurai.cli import CLIError

MODELS = ("tiny", "small", "base_plus", "large", "medsam2")
MOTION_MODELS = ("xyah", "xywh", "xyxy")  # samurai_core.config.MOTION_MODELS, kept import-free
GIF_MAX_FRAMES = 120
GIF_MAX_WIDTH = 480


def add_parser(sub) -> None:
    p = sub.add_parser(
        "track",
        help="track objects through a video (SAM 2 + SAMURAI)",
        description=(
            "Track one or more objects through a video file (mp4/avi) or a folder of frames, "
            "prompted on the first frame by boxes or a label mask. Frames are streamed."
        ),
    )
    p.add_argument("video", help="video file (mp4, avi, ...) or folder of frames")
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
        "--chambers",
        metavar="NAMES",
        help="track these structures with no box, e.g. lv,la,rv,ra: each is found by the "
        "prompter (ids 1, 2, ... in this order), re-seeded when its track is lost; needs an "
        "--adapter trained with `samurai train --prompts learned`",
    )
    p.add_argument("--prompter", choices=("learned",), default=None,
                   help="how --chambers finds the structures (default: learned)")
    p.add_argument("--lost-frames", type=int, default=3, metavar="K",
                   help="with --chambers: frames of low object score (or a reset motion track) "
                   "before a chamber is looked for again (default 3)")
    p.add_argument("--checkpoint", help="SAM 2 checkpoint (.pt, official format)")
    p.add_argument("--model", default="tiny", choices=MODELS, help="SAM 2 model size (default: tiny)")
    p.add_argument("--adapter", help="LoRA adapter folder written by `samurai train`")
    p.add_argument("--vanilla", action="store_true", help="plain SAM 2 (SAMURAI off)")
    add_motion_arguments(p)
    p.add_argument("--device", default=None, help="torch device (default: cuda when present, else cpu)")
    p.add_argument("--image-size", type=int, default=None, help="SAM 2 input size override")
    p.add_argument("--out", default=None, help="output folder (default: <video name>_track)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="TESTING ONLY: run an untrained model when no --checkpoint is given",
    )
    p.add_argument("--no-video", action="store_true", help="skip the overlay MP4/GIF")
    p.set_defaults(run=run)


def add_motion_arguments(p) -> None:
    """``--noise`` and ``--motion-model``: the Kalman filter of SAMURAI (track, eval, demo)."""
    p.add_argument(
        "--noise",
        metavar="JSON",
        help="Kalman noise weights fitted by `samurai calibrate` (default: the official ones)",
    )
    p.add_argument(
        "--motion-model",
        choices=MOTION_MODELS,
        default=None,
        help="box state of the Kalman filter (default: the --noise file's model, else xyah)",
    )


def samurai_config(preset_name: str, noise=None, motion_model: str | None = None):
    """The ``SamuraiConfig`` of a run: the preset, with ``--motion-model`` and ``--noise`` applied.

    Without ``--motion-model`` a calibration brings its own motion model (its weights mean
    nothing in another one); with it, the two must agree.
    """
    import samurai_core as sc

    cfg = sc.preset(preset_name)
    if noise is None:
        return cfg if motion_model is None else cfg._replace(motion_model=motion_model).validate()
    from samurai_core.calibrate import config_with_noise, load_calibration  # optax: only when used

    path = Path(noise)
    if not path.is_file():
        raise CLIError(
            f"noise file {path} does not exist or is not a file; pass the JSON written by "
            "`samurai calibrate --out FILE`, or drop --noise for the default weights"
        )
    try:
        cal = load_calibration(path)
    except ValueError as err:
        raise CLIError(f"--noise: {err}") from None
    if motion_model is not None and motion_model != cal.motion_model:
        raise CLIError(
            f"--noise {path} was fitted for motion model {cal.motion_model!r} but --motion-model is "
            f"{motion_model!r}; drop --motion-model (the file's model is then used) or calibrate "
            f"again with `samurai calibrate --motion-model {motion_model}`"
        )
    try:
        return config_with_noise(cfg._replace(motion_model=cal.motion_model), cal)
    except ValueError as err:
        raise CLIError(f"--noise {path}: {err}") from None


# ----------------------------------------------------------------------------- prompts


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x1,y1,x2,y2"`` -> floats, or CLIError naming the expected form."""
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(v) for v in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise CLIError(f"--box {text!r} is not 4 numbers; write it as X1,Y1,X2,Y2 in pixels, e.g. --box 10,20,110,140")
    return values


def check_box(box, width: int, height: int, number: int) -> None:
    """Raise CLIError when a box is empty or leaves the ``width`` x ``height`` frame."""
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        raise CLIError(
            f"box {number} ({x1:g},{y1:g},{x2:g},{y2:g}) is empty: X2 must exceed X1 and Y2 exceed Y1 "
            "(boxes are corners X1,Y1,X2,Y2, not X,Y,W,H)"
        )
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise CLIError(
            f"box {number} ({x1:g},{y1:g},{x2:g},{y2:g}) lies outside the {width}x{height} frame; "
            f"keep 0 <= X1 < X2 <= {width} and 0 <= Y1 < Y2 <= {height}"
        )


def parse_chambers(args) -> list[str]:
    """``--chambers lv,la`` -> ``["lv", "la"]``, or CLIError for a bad combination."""
    if args.box or args.mask:
        raise CLIError("--chambers finds the structures itself: drop --box/--mask (or drop --chambers)")
    if args.lost_frames < 1:
        raise CLIError(f"--lost-frames {args.lost_frames} must be at least 1")
    names = [c.strip().lower() for c in args.chambers.split(",") if c.strip()]
    if not names or len(set(names)) != len(names):
        raise CLIError(f"--chambers {args.chambers!r}: give distinct comma-separated names, e.g. lv,la,rv,ra")
    if args.adapter is None:
        raise CLIError("--chambers needs --adapter DIR: an adapter trained with `samurai train --prompts learned`")
    return names


def load_prompts(args, width: int, height: int) -> dict:
    """Object id -> ("box", xyxy) or ("mask", bool [H, W]) from ``--box`` / ``--mask``."""
    import numpy as np

    from samurai.io import read_mask_png

    if bool(args.box) == bool(args.mask):
        raise CLIError("give the first-frame prompt as --box X1,Y1,X2,Y2 (repeatable) or as --mask PNG, not both and not neither")
    if args.box:
        prompts = {}
        for i, text in enumerate(args.box, 1):
            box = parse_box(text)
            check_box(box, width, height, i)
            prompts[i] = ("box", np.asarray(box, np.float32))
        return prompts
    path = Path(args.mask)
    if not path.is_file():
        raise CLIError(f"mask {path} does not exist; pass a PNG label mask of the first frame")
    try:
        labels = read_mask_png(path)
    except (ValueError, OSError) as err:
        raise CLIError(f"cannot read mask {path}: {err}") from None
    if labels.shape != (height, width):
        raise CLIError(
            f"mask {path} is {labels.shape[1]}x{labels.shape[0]} but the video is {width}x{height}; "
            "draw the mask on the first frame at the video's resolution"
        )
    ids = [int(v) for v in np.unique(labels) if v != 0]
    if not ids:
        raise CLIError(f"mask {path} is empty (all 0); paint each object with its id 1, 2, ...")
    return {k: ("mask", labels == k) for k in ids}


# ----------------------------------------------------------------------------- model


def build_predictor(model, checkpoint, device, image_size, samurai, adapter, random_weights,
                    noise=None, motion_model=None):
    """The SAM 2 video predictor for the CLI, with every user error turned into a CLIError.

    ``noise`` / ``motion_model`` (``--noise``, ``--motion-model``) set the SAMURAI config
    (see ``samurai_config``); without them the backend uses the model size's preset.
    """
    if checkpoint is None and not random_weights:
        raise CLIError(
            f"SAM 2 model {model!r} needs weights: pass --checkpoint PATH (e.g. "
            "sam2.1_hiera_tiny.pt from the SAM 2 release; medsam2 needs a MedSAM2 .pt); "
            "--random-weights runs an untrained model, for testing only"
        )
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise CLIError(f"checkpoint {checkpoint} does not exist; pass the path of a SAM 2 .pt file")
    if image_size is not None and (image_size < 64 or image_size % 16):
        raise CLIError(f"--image-size {image_size} must be a multiple of 16 and at least 64 (SAM 2 uses 1024)")
    try:
        import torch  # noqa: F401

        from samurai_sam2 import build_samurai_video_predictor
        from samurai_sam2.build import model_size
    except ImportError as err:
        raise CLIError(
            f"SAM 2 tracking needs torch and sam2 ({err}); install them with "
            "`bash scripts/setup.sh full` (the demo runs without them)"
        ) from None
    config = None
    if noise is not None or motion_model is not None:
        config = samurai_config(model_size(model), noise, motion_model)
    if checkpoint is None:
        print("WARNING: --random-weights: the model is UNTRAINED; its masks are meaningless (testing only)")
    try:
        predictor = build_samurai_video_predictor(
            model, checkpoint, device=device, samurai=samurai, image_size=image_size,
            samurai_config=config,
        )
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        raise CLIError(f"cannot build SAM 2 model {model!r} from {checkpoint}: {err}") from None
    if adapter is not None:
        from samurai.train.lora import AdapterError, load_adapter

        try:
            load_adapter(predictor, adapter)
        except AdapterError as err:
            raise CLIError(f"adapter {adapter} does not fit the {model} model: {err}") from None
    return predictor


def sam2_track(predictor, source, prompts: dict, samurai: bool | None = None):
    """Track prompted objects (frame 0) with a SAM 2 predictor.

    Yields ``(frame_idx, {obj_id: bool [H, W] mask}, {obj_id: scores})`` per frame, where the
    scores are the predictor's ``frame_scores`` (empty on the prompt frame). ``samurai``
    switches SAMURAI on or off for this video (None: as the predictor is configured), so one
    model serves both the vanilla and the SAMURAI run.
    """
    import numpy as np

    if samurai is not None:
        predictor.configure_samurai(enabled=samurai, config=predictor.samurai_config)
    state = predictor.init_state(source)
    for oid, (kind, value) in prompts.items():
        if kind == "box":
            predictor.add_new_points_or_box(state, frame_idx=0, obj_id=oid, box=value)
        else:
            predictor.add_new_mask(state, frame_idx=0, obj_id=oid, mask=np.asarray(value, bool))
    for t, obj_ids, logits in predictor.propagate_in_video(state):
        masks = (logits[:, 0] > 0.0).cpu().numpy()
        yield t, {oid: masks[i] for i, oid in enumerate(obj_ids)}, predictor.frame_scores(state, t)


# ----------------------------------------------------------------------------- run


def run(args) -> int:
    import numpy as np

    from samurai_phantom.segmenter import mask_box
    from samurai.io import (
        MP4Writer,
        OutputDir,
        mp4_available,
        overlay,
        write_csv,
        write_gif,
        write_lasot_boxes,
        write_png,
    )

    video = Path(args.video)
    if not video.exists():
        raise CLIError(f"video {video} does not exist; pass a video file (mp4/avi) or a folder of frames")
    try:
        from samurai_common.frames import FrameError, open_frames
    except ImportError as err:
        raise CLIError(f"`samurai track` needs torch and sam2 ({err}); run `bash scripts/setup.sh full`") from None
    try:
        source = open_frames(str(video))
        first = source[0]
    except (FileNotFoundError, FrameError) as err:
        raise CLIError(f"cannot read {video}: {err}") from None
    height, width = first.shape[:2]
    if args.prompter is not None and not args.chambers:
        raise CLIError("--prompter is used with --chambers NAMES; add --chambers (e.g. lv,la,rv,ra)")
    chambers = parse_chambers(args) if args.chambers else None
    prompts = None if chambers else load_prompts(args, width, height)
    out_dir = Path(args.out) if args.out else Path(f"{video.stem or video.name}_track")
    if out_dir.exists() and not args.force:
        raise CLIError(f"output folder {out_dir} already exists; pass --force to overwrite it or choose another --out")
    predictor = build_predictor(
        args.model, args.checkpoint, args.device, args.image_size,
        samurai=not args.vanilla, adapter=args.adapter, random_weights=args.random_weights,
        noise=args.noise, motion_model=args.motion_model,
    )
    n_frames = len(source)
    if chambers:
        from samurai.prompters.learned import track_chambers

        if predictor.class_prompts is None:
            raise CLIError(
                f"adapter {args.adapter} has no class prompts (class_prompts.safetensors); "
                "train one with `samurai train --prompts learned`"
            )
        unknown = [c for c in chambers if c not in predictor.class_prompts.class_names]
        if unknown:
            raise CLIError(
                f"--chambers {unknown} unknown to adapter {args.adapter}, which knows "
                f"{list(predictor.class_prompts.class_names)}"
            )
        ids = list(range(1, len(chambers) + 1))
        events: list = []
        frames_iter = track_chambers(predictor, source, chambers, lost_frames=args.lost_frames, events=events)
    else:
        ids = sorted(prompts)
        frames_iter = sam2_track(predictor, source, prompts)
    info = {
        "command": "track",
        "video": str(video),
        "frames": n_frames,
        "objects": ids,
        "model": args.model,
        "checkpoint": args.checkpoint,
        "random_weights": args.checkpoint is None,
        "adapter": args.adapter,
        "samurai": not args.vanilla,
        "noise": args.noise,
        "motion_model": predictor.samurai_config.motion_model,
    }
    if chambers:
        info.update(prompter=args.prompter or "learned", names={k: c for k, c in zip(ids, chambers)})
    fps = source.fps or 25.0
    gif_stride = max(1, math.ceil(n_frames / GIF_MAX_FRAMES))
    gif_scale = min(1.0, GIF_MAX_WIDTH / width)
    with OutputDir(out_dir, force=args.force, info=info) as out:
        (out.path / "masks").mkdir()
        (out.path / "boxes").mkdir()
        boxes = {k: np.zeros((n_frames, 4), np.float32) for k in ids}
        rows, gif_frames = [], []
        mp4 = None
        if not args.no_video and mp4_available():
            mp4 = MP4Writer(out.path / "overlay.mp4", fps)
        seen = 0
        try:
            for t, masks, scores in frames_iter:
                labels = np.zeros((height, width), np.uint8)
                for k in ids:
                    m = masks.get(k)
                    if m is None:
                        continue
                    labels[m] = k
                    boxes[k][t] = mask_box(m)
                    rows.append(_score_row(t, k, scores.get(k)))
                write_png(out.path / "masks" / f"{t:05d}.png", labels)
                if not args.no_video:
                    over = overlay(source[t], labels)
                    if mp4 is not None:
                        mp4.write(over)
                    if t % gif_stride == 0:
                        gif_frames.append(_shrink(over, gif_scale))
                seen += 1
        except FrameError as err:
            raise CLIError(f"cannot read frame {seen} of {video}: {err}") from None
        finally:
            if mp4 is not None:
                mp4.close()
        if seen != n_frames:
            raise CLIError(f"tracked {seen} of {n_frames} frames; the video ended early or is damaged")
        if chambers:
            # Seeds, losses and re-seeds, in the manifest beside the names.
            out.info["events"] = [
                {"frame": e.frame, "obj_id": chambers.index(e.name) + 1, "name": e.name,
                 "event": e.kind, "score": round(e.score, 4)} for e in events
            ]
        for k in ids:
            write_lasot_boxes(out.path / "boxes" / f"obj_{k}.txt", boxes[k])
        write_csv(out.path / "scores.csv", rows, fieldnames=SCORE_FIELDS)
        if gif_frames:
            write_gif(out.path / "overlay.gif", gif_frames, fps=fps / gif_stride)
    print(f"wrote {out_dir}/ ({n_frames} frames, {len(ids)} object(s)): masks/, boxes/, scores.csv"
          + ("" if args.no_video else ", overlay.gif" + (", overlay.mp4" if mp4 is not None else "")))
    return 0


SCORE_FIELDS = [
    "frame", "obj_id", "prompt", "chosen", "predicted_iou", "object_score", "motion_iou",
    "stable_frames", "memory_frames",
]


def _score_row(t: int, obj_id: int, s: dict | None) -> dict:
    import numpy as np

    if s is None:  # a prompted (conditioning) frame: SAM 2 makes one mask, no choice
        return {"frame": t, "obj_id": obj_id, "prompt": 1}
    chosen = int(s["chosen"])
    kf_ok = bool(s.get("kf_score_valid", False))
    memory = s.get("memory_frames")
    return {
        "frame": t,
        "obj_id": obj_id,
        "prompt": 0,
        "chosen": chosen,
        "predicted_iou": float(np.asarray(s["ious"]).reshape(-1)[chosen]),
        "object_score": float(s["object_score"]),
        "motion_iou": float(s["kf_score"]) if kf_ok else float("nan"),
        "stable_frames": int(s["stable_frames"]) if "stable_frames" in s else "",
        "memory_frames": "" if memory is None else " ".join(str(int(f)) for f in np.asarray(memory).reshape(-1) if f >= 0),
    }


def _shrink(image, scale: float):
    import numpy as np
    from PIL import Image

    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((max(1, int(w * scale)), max(1, int(h * scale)))))
