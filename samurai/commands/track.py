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
from samurai_core.motion_models import MOTION_MODELS

MODELS = ("tiny", "small", "base_plus", "large", "medsam2")
GIF_MAX_FRAMES = 120
GIF_MAX_WIDTH = 480


def add_parser(sub) -> None:
    p = sub.add_parser(
        "track",
        help="track objects through a video (SAM 2 + SAMURAI)",
        description=(
            "Track one or more objects through a video file (mp4/avi) or a folder of frames, "
            "prompted on the first frame by boxes or a label mask. Frames are streamed. "
            "Many videos (a folder of video files, or a .txt list) get one output folder each, "
            "sharded over the ranks under torchrun and resumed when run again."
        ),
    )
    p.add_argument("video", help="video file (mp4, avi, ...) or folder of frames; or, for many "
                                 "videos, a folder of video files or a .txt file listing one per line")
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
    p.add_argument("--boxes", metavar="CSV",
                   help="many videos: first-frame boxes, a CSV with columns video,obj_id,x1,y1,x2,y2")
    p.add_argument("--masks", metavar="DIR",
                   help="many videos: first-frame label masks, DIR/<video name>.png per video")
    p.add_argument("--chambers", metavar="NAMES",
                   help="no box: find these structures (comma-separated, e.g. lv,la,rv,ra) with "
                        "--prompter and track each one found (ids 1, 2, ... in this order); with "
                        "the learned prompter lost ones are re-seeded")
    from samurai.prompters import available_prompters

    p.add_argument("--prompter", help="what finds --chambers: a registered prompter "
                   f"({', '.join(available_prompters())}; default: learned, the class prompts of "
                   "an --adapter trained with `samurai train --prompts learned`)")
    p.add_argument("--lost-frames", type=int, default=3, metavar="K",
                   help="with --chambers and the learned prompter: frames of low object score (or a "
                        "reset motion track) before a chamber is looked for again (default: 3)")
    p.add_argument("--prompter-model", metavar="DIR", help="the prompter's model folder")
    p.add_argument("--prompter-adapter", metavar="DIR", help="the prompter's LoRA adapter folder")
    p.add_argument("--checkpoint", help="SAM 2 checkpoint (.pt, official format)")
    add_model_arguments(p)
    p.add_argument("--adapter", help="LoRA adapter folder written by `samurai train`")
    p.add_argument("--vanilla", action="store_true", help="plain SAM 2 (SAMURAI off)")
    add_motion_arguments(p)
    p.add_argument("--out", default=None, help="output folder (default: <video name>_track)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output folder written by samurai (or an empty one)")
    add_random_weights_arguments(p)
    p.add_argument("--no-video", action="store_true", help="skip the overlay MP4/GIF")
    p.set_defaults(run=run)


IMAGE_SIZE_HELP = (
    "SAM 2 input size in pixels, a multiple of 32 (default: the model's, 1024; 512 for "
    "medsam2); smaller is faster and coarser: on a CPU try 512 or 256"
)


def add_model_arguments(p) -> None:
    """``--model``, ``--image-size`` and ``--device``: the SAM 2 model of a run (track, eval, demo)."""
    p.add_argument("--model", default="tiny", type=model_name, metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--image-size", type=int, default=None, metavar="PX", help=IMAGE_SIZE_HELP)
    p.add_argument(
        "--device", default=None,
        help="torch device: cpu, cuda, cuda:N (default: cuda when a GPU is visible, else cpu)",
    )


def add_random_weights_arguments(p) -> None:
    """``--random-weights`` and its ``--seed`` (track, eval)."""
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="TESTING ONLY: run an untrained model when no --checkpoint is given",
    )
    p.add_argument(
        "--seed", type=int, default=0,
        help="seed of the untrained model's weights with --random-weights, so that pipeline "
        "checks repeat exactly (default: 0)",
    )


MODEL_HELP = (
    f"SAM 2 model size ({', '.join(MODELS)}; default: tiny), or hf:DIR for a transformers SAM 2 / "
    "EdgeTAM / SAM 3 tracker folder (save_pretrained output; the family is read from its config)"
)
HF_PREFIX = "hf:"


def model_name(text: str) -> str:
    """``--model``: a SAM 2 size or ``hf:DIR`` (argparse turns the error into exit 2)."""
    import argparse

    if text in MODELS or (text.startswith(HF_PREFIX) and len(text) > len(HF_PREFIX)):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a model; use one of {', '.join(MODELS)} or hf:DIR (a transformers folder)"
    )


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
    from samurai.io import load_calibration
    from samurai_core.calibrate import config_with_noise  # optax: only when used

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
    """Raise CLIError when a box is empty or leaves the ``width`` x ``height`` frame.

    Boxes follow the project's convention (``samurai_core.mask_to_box``): X1,Y1,X2,Y2 are the
    pixel indices of the first and last column and row, so a one-pixel box has X2 == X1 and the
    frame's last column is ``width - 1``.
    """
    x1, y1, x2, y2 = box
    if not (x2 >= x1 and y2 >= y1):
        raise CLIError(
            f"box {number} ({x1:g},{y1:g},{x2:g},{y2:g}) is empty: X2 must not be below X1 nor Y2 "
            "below Y1 (boxes are corners X1,Y1,X2,Y2, not X,Y,W,H)"
        )
    if x1 < 0 or y1 < 0 or x2 > width - 1 or y2 > height - 1:
        raise CLIError(
            f"box {number} ({x1:g},{y1:g},{x2:g},{y2:g}) lies outside the {width}x{height} frame; "
            f"keep 0 <= X1 <= X2 <= {width - 1} and 0 <= Y1 <= Y2 <= {height - 1} (X2, Y2 are the "
            "last column and row inside the box)"
        )


def chamber_prompts(args, frame, device=None) -> tuple[dict, dict]:
    """``--chambers`` found on ``frame`` by ``--prompter``: (object id -> ("box", xyxy), record).

    Ids follow the order of ``--chambers``; a structure the prompter does not find is left out
    (said on stderr), and none found is an error."""
    import sys

    import numpy as np

    from samurai.prompters import PrompterError, make_prompter

    if args.box or args.mask:
        raise CLIError("--chambers replaces --box / --mask; give one kind of first-frame prompt")
    names = [c.strip() for c in args.chambers.split(",") if c.strip()]
    if not names or args.prompter is None:
        raise CLIError("--chambers needs class names (e.g. --chambers lv,la) and --prompter NAME "
                       "(e.g. --prompter florence2 --prompter-model DIR)")
    options = {"model": args.prompter_model, "device": device}
    if args.prompter_adapter:
        options["adapter"] = args.prompter_adapter
    try:
        prompter = make_prompter(args.prompter, **options)
    except TypeError:
        if "adapter" not in options:
            raise
        raise CLIError(f"--prompter {args.prompter} takes no --prompter-adapter; drop it") from None
    except PrompterError as err:
        raise CLIError(f"--prompter {args.prompter}: {err}") from None
    try:
        found = prompter.find(frame, names)
    except PrompterError as err:
        raise CLIError(f"--prompter {args.prompter}: {err}") from None
    prompts, record = {}, []
    for i, name in enumerate(names, 1):
        r = found[name]
        record.append({"name": name, "id": i, "present": r.present, "score": r.score,
                       "box": None if r.box is None else [float(v) for v in r.box]})
        if r.present:
            prompts[i] = ("box", np.asarray(r.box, np.float32))
        else:
            print(f"warning: {args.prompter} did not find {name!r} on the first frame; it is not tracked",
                  file=sys.stderr)
    if not prompts:
        raise CLIError(f"{args.prompter} found none of {', '.join(names)} on the first frame; check "
                       "--prompter-model / --prompter-adapter (a model fine-tuned on echo data), or "
                       "prompt with --box")
    return prompts, {"frame": 0, "prompter": args.prompter, "prompter_model": args.prompter_model,
                     "prompter_adapter": args.prompter_adapter, "chambers": record}


def parse_chambers(args) -> list[str]:
    """``--chambers lv,la`` for the learned prompter -> ``["lv", "la"]``, or CLIError for a bad
    combination."""
    if args.box or args.mask:
        raise CLIError("--chambers finds the structures itself: drop --box/--mask (or drop --chambers)")
    if args.lost_frames < 1:
        raise CLIError(f"--lost-frames {args.lost_frames} must be at least 1")
    names = [c.strip().lower() for c in args.chambers.split(",") if c.strip()]
    if not names or len(set(names)) != len(names):
        raise CLIError(f"--chambers {args.chambers!r}: give distinct comma-separated names, e.g. lv,la,rv,ra")
    if args.adapter is None:
        raise CLIError("--chambers needs --adapter DIR: an adapter trained with `samurai train --prompts "
                       "learned` (the default prompter), or another --prompter (florence2, sam3) with "
                       "--prompter-model DIR")
    return names


def learned_chambers(predictor, source, chambers: list[str], args, events: list):
    """The learned prompter's frames (as ``sam2_track`` yields them) for ``chambers``, checked
    against the adapter's class prompts."""
    from samurai.prompters.learned import track_chambers

    if getattr(predictor, "class_prompts", None) is None:
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
    return track_chambers(predictor, source, chambers, lost_frames=args.lost_frames, events=events)


def load_prompts(args, width: int, height: int) -> dict:
    """Object id -> ("box", xyxy) or ("mask", bool [H, W]) from ``--box`` / ``--mask``."""
    if bool(args.box) == bool(args.mask):
        raise CLIError("give the first-frame prompt as --box X1,Y1,X2,Y2 (repeatable), as --mask PNG, "
                       "or as --chambers lv,la --prompter NAME: one kind, not both and not neither")
    if args.box:
        return box_prompts([parse_box(text) for text in args.box], width, height)
    return mask_prompts(Path(args.mask), width, height)


def box_prompts(boxes, width: int, height: int) -> dict:
    """Object ids 1, 2, ... -> ("box", xyxy) for first-frame boxes, each checked on the frame."""
    import numpy as np

    prompts = {}
    for i, box in enumerate(boxes, 1):
        check_box(box, width, height, i)
        prompts[i] = ("box", np.asarray(box, np.float32))
    return prompts


def mask_prompts(path: Path, width: int, height: int) -> dict:
    """Object id -> ("mask", bool [H, W]) from a first-frame label mask PNG."""
    import numpy as np

    from samurai.io import read_mask_png

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
                    noise=None, motion_model=None, seed=0):
    """The SAM 2 video predictor for the CLI, with every user error turned into a CLIError.

    ``noise`` / ``motion_model`` (``--noise``, ``--motion-model``) set the SAMURAI config
    (see ``samurai_config``); without them the backend uses the model size's preset. Random
    weights (no ``checkpoint``) are drawn from ``seed``, so that two runs are identical.
    ``hf:DIR`` models go to the transformers backend (:func:`build_hf_predictor`).
    """
    if model.startswith(HF_PREFIX):
        return build_hf_predictor(model[len(HF_PREFIX):], checkpoint, device, image_size, samurai,
                                  adapter, random_weights, noise, motion_model)
    if checkpoint is None and not random_weights:
        raise CLIError(
            f"SAM 2 model {model!r} needs weights: pass --checkpoint PATH (e.g. "
            "sam2.1_hiera_tiny.pt from the SAM 2 release; medsam2 needs a MedSAM2 .pt such as "
            "MedSAM2_US_Heart.pt); --random-weights runs an untrained model, for testing only"
        )
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise CLIError(f"checkpoint {checkpoint} does not exist; pass the path of a SAM 2 .pt file")
    try:
        import torch

        from samurai_common.devices import resolve_device
        from samurai_sam2 import build_samurai_video_predictor
        from samurai_sam2.build import check_image_size, model_size
    except ImportError as err:
        raise CLIError(
            f"SAM 2 tracking needs torch and sam2 ({err}); install them with "
            "`bash scripts/setup.sh full` (the demo runs without them)"
        ) from None
    try:
        if image_size is not None:
            check_image_size(image_size)
    except ValueError as err:
        raise CLIError(f"--image-size: {err}") from None
    try:
        device = resolve_device(device)
    except ValueError as err:
        raise CLIError(f"--device: {err}") from None
    config = None
    if noise is not None or motion_model is not None:
        config = samurai_config(model_size(model), noise, motion_model)
    if checkpoint is None:
        print(f"WARNING: --random-weights: the model is UNTRAINED (seed {seed}); its masks are "
              "meaningless (testing only)")
    try:
        # Random-init weights come from torch's global generator: draw them from the seed, and
        # leave the caller's generator as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            predictor = build_samurai_video_predictor(
                model, checkpoint, device=device, samurai=samurai, image_size=image_size,
            )
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        raise CLIError(f"cannot build SAM 2 model {model!r} from {checkpoint}: {err}") from None
    if config is not None:  # the preset with the model's memory sizes, as for --model hf:DIR
        predictor.configure_samurai(predictor.samurai, predictor.samurai_preset(
            model_size(model), motion_model=config.motion_model, noise=config.noise))
    if adapter is not None:
        from samurai.train.lora import AdapterError, load_adapter

        try:
            load_adapter(predictor, adapter)
        except AdapterError as err:
            raise CLIError(f"adapter {adapter} cannot be loaded into the {model} model: {err}") from None
    return predictor


def build_hf_predictor(folder, checkpoint, device, image_size, samurai, adapter, random_weights,
                       noise=None, motion_model=None):
    """The transformers backend's predictor for ``--model hf:DIR`` (SAM 2, EdgeTAM or SAM 3
    tracker, read from the folder's config), with user errors as CLIErrors."""
    for flag, value in (("--checkpoint", checkpoint), ("--image-size", image_size),
                        ("--random-weights", random_weights or None)):
        if value is not None:
            raise CLIError(f"{flag} is for SAM 2 models; --model hf:DIR takes the weights and input "
                           "size from the folder (drop the flag)")
    if not Path(folder).is_dir():
        raise CLIError(f"--model hf:{folder}: {folder} is not a folder; pass a transformers model "
                       "folder written by save_pretrained")
    try:
        from samurai_common.devices import resolve_device
        from samurai_hf import HFVideoPredictor, TransformersVersionError, build_samurai_hf_model, load_processor
    except ImportError as err:
        raise CLIError(f"--model hf:DIR needs torch and transformers ({err}); install them with "
                       "pip install 'samurai-track[hf]'") from None
    config = samurai_config("tiny", noise, motion_model)  # --noise / --motion-model checked first
    try:
        model = build_samurai_hf_model(folder, samurai=None)
        processor = load_processor(folder)
    except (TransformersVersionError, ValueError, OSError) as err:
        raise CLIError(f"cannot load --model hf:{folder}: {err}") from None
    # The preset with the model's memory sizes (the backend refuses other values).
    config = model.samurai_preset("tiny", motion_model=config.motion_model, noise=config.noise)
    model.configure_samurai(config)
    try:
        model.to(resolve_device(device))
    except ValueError as err:
        raise CLIError(f"--device: {err}") from None
    if adapter is not None:
        from samurai.train.lora import AdapterError, load_adapter

        try:
            load_adapter(model, adapter)
        except AdapterError as err:
            raise CLIError(f"adapter {adapter} does not fit the model in {folder}: {err}") from None
    predictor = HFVideoPredictor(model, processor, config)
    predictor.configure_samurai(enabled=samurai)
    return predictor


# Seconds per frame of SAM 2.1 hiera-tiny with one object on one core of a 2-core CPU box, by
# input size: 0.14 s at 256 px on the idle box (docs/benchmarks.md, test_frame_time), the other
# sizes and the other models scaled by the ratios that
# benchmarks/bench_backend.py::test_model_size_frame_time measured (two runs on the shared box,
# geometric mean). Estimates only: machines differ by 2-3x; docs/cli.md gives the figures.
CPU_SECONDS_PER_FRAME = {256: 0.14, 512: 0.47, 1024: 3.0}
CPU_MODEL_FACTOR = {"tiny": 1.0, "small": 1.1, "base_plus": 2.0, "large": 3.4}


def cpu_seconds_per_frame(model: str, image_size: int) -> float:
    """Rough CPU time per frame and object (log-log interpolation of the measured sizes)."""
    import numpy as np

    from samurai_sam2.build import model_size

    sizes = sorted(CPU_SECONDS_PER_FRAME)
    tiny = np.exp(np.interp(np.log(image_size), np.log(sizes),
                            np.log([CPU_SECONDS_PER_FRAME[s] for s in sizes])))
    return float(tiny) * CPU_MODEL_FACTOR[model_size(model)]


def cpu_notice(predictor, model: str, n_frames: int | None, n_objects: int = 1) -> str | None:
    """One line for CPU runs of a SAM 2 model: the estimated time (for ``n_frames`` frames, or
    per frame when the count is not known yet) and a smaller ``--image-size`` to try."""
    if model.startswith(HF_PREFIX) or predictor.device.type != "cpu":
        return None  # no measured figures for the transformers models
    size = int(predictor.image_size)
    # sam2 runs memory attention and the decoder once per object: 4 objects cost ~1.8x one.
    objects = 1.0 + 0.27 * (max(n_objects, 1) - 1)

    def total(px: int) -> str:
        seconds = cpu_seconds_per_frame(model, px) * objects
        return f"{seconds:.1f} s per frame and object" if n_frames is None else _duration(seconds * n_frames)

    scope = "" if n_frames is None else f" for {n_frames} frames"
    line = (f"note: running on the CPU at {size} px: about {total(size)}{scope} "
            "(a rough estimate; machines differ)")
    smaller = [px for px in (512, 256) if px < size]
    if smaller:
        line += "; " + ", ".join(f"--image-size {px}: ~{total(px)}" for px in smaller) + " (coarser masks)"
    return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def sam2_track(predictor, source, prompts: dict, samurai: bool | None = None):
    """Track prompted objects (frame 0) with a SAM 2 predictor.

    Yields ``(frame_idx, {obj_id: bool [H, W] mask}, {obj_id: scores})`` per frame, where the
    scores are the predictor's ``frame_scores`` (empty on the prompt frame). ``samurai``
    switches SAMURAI on or off for this video only (None: as the predictor is configured), so
    one model serves both the vanilla and the SAMURAI run and the predictor is left unchanged.
    """
    import numpy as np

    state = predictor.init_state(source, samurai=samurai)
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
    import sys

    import numpy as np

    from samurai.io import OutputDir

    video = Path(args.video)
    if not video.exists():
        raise CLIError(f"video {video} does not exist; pass a video file (mp4/avi) or a folder of frames")
    from samurai.track_many import is_many, run_many

    if is_many(video):
        return run_many(args)
    if args.boxes or args.masks:
        raise CLIError("--boxes / --masks prompt many videos (a folder of videos or a .txt list); "
                       "prompt one video with --box X1,Y1,X2,Y2 or --mask PNG")
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
    learned = bool(args.chambers) and args.prompter in (None, "learned")
    chambers, chamber_record = None, None
    if learned:
        chambers = parse_chambers(args)
        prompts = {}
        chamber_record = {"prompter": "learned", "chambers": chambers, "lost_frames": args.lost_frames}
    elif args.chambers:
        prompts, chamber_record = chamber_prompts(
            args, first if first.ndim == 3 else np.repeat(first[..., None], 3, 2), args.device)
    else:
        prompts = load_prompts(args, width, height)
    out_dir = Path(args.out) if args.out else Path(f"{video.stem or video.name}_track")
    with OutputDir(out_dir, force=args.force) as out:
        predictor = build_predictor(
            args.model, args.checkpoint, args.device, args.image_size,
            samurai=not args.vanilla, adapter=args.adapter, random_weights=args.random_weights,
            noise=args.noise, motion_model=args.motion_model, seed=args.seed,
        )
        frames, events = None, []
        notice = cpu_notice(predictor, args.model, len(source), len(chambers) if learned else len(prompts))
        if notice:
            print(notice, file=sys.stderr)
        if learned:
            ids = list(range(1, len(chambers) + 1))
            frames = learned_chambers(predictor, source, chambers, args, events)
            out.info.update(prompter="learned", names=dict(zip(ids, chambers)))
        else:
            ids = sorted(prompts)
        out.info.update(run_info(args, predictor), video=str(video), objects=ids,
                        prompts=chamber_record or prompt_info(args), samurai=not args.vanilla)
        seen, found, mp4 = track_into(out, args, video, source, prompts, predictor, ids, frames)
        if learned:  # seeds, losses and re-seeds, beside the names
            out.info["events"] = [
                {"frame": e.frame, "obj_id": chambers.index(e.name) + 1, "name": e.name,
                 "event": e.kind, "score": round(e.score, 4)} for e in events
            ]
    report_frames_read(str(video), source, seen, TRACK_DONE)
    report_empty(found, seen, is_untrained(args))
    print(f"wrote {out_dir}/ ({seen} frames, {len(found)} object(s)): masks/, boxes/, scores.csv"
          + ("" if args.no_video else ", overlay.gif" + (", overlay.mp4" if mp4 else "")))
    if learned:  # the chamber read-out beside the run (docs/clinical.md)
        from samurai.clinical.report import report_after_track

        print(report_after_track(out_dir, force=args.force))
    return 0


def track_into(out, args, video, source, prompts: dict, predictor, ids=None,
               frames=None) -> tuple[int, dict, bool]:
    """Track ``prompts`` through ``source`` and write masks, boxes, scores and overlays into the
    ``OutputDir`` ``out``; returns (frames read, object id -> frames with a mask, MP4 written).

    ``frames``: the tracked frames when they do not come from ``prompts`` (the learned chamber
    prompter's, for objects ``ids``), as ``sam2_track`` yields them."""
    import numpy as np

    from samurai_common.frames import FrameError
    from samurai_core.boxes import mask_to_box
    from samurai.io import (
        PALETTE,
        MP4Writer,
        draw_box,
        mp4_available,
        overlay,
        stamp,
        write_csv,
        write_gif,
        write_lasot_boxes,
        write_png,
    )

    height, width = source.height, source.width
    ids = sorted(prompts) if ids is None else ids
    if frames is None:
        frames = sam2_track(predictor, source, prompts)
    untrained = is_untrained(args)
    fps = source.fps or 25.0
    gif_stride = max(1, math.ceil(len(source) / GIF_MAX_FRAMES))  # the announced count: an estimate
    gif_scale = min(1.0, GIF_MAX_WIDTH / width)
    (out.path / "masks").mkdir()
    (out.path / "boxes").mkdir()
    boxes = {k: {} for k in ids}  # frame -> box: the frame count is known once the video ends
    found = dict.fromkeys(ids, 0)  # frames on which each object has a mask
    rows, gif_frames = [], []
    mp4 = None
    if not args.no_video and mp4_available():
        mp4 = MP4Writer(out.path / "overlay.mp4", fps)
    seen = 0
    try:
        for t, masks, scores in frames:
            labels = np.zeros((height, width), np.uint8)
            for k in ids:
                m = masks.get(k)
                if m is None:
                    continue
                labels[m] = k
                boxes[k][t] = mask_to_box(m)
                found[k] += bool(m.any())
                rows.append(_score_row(t, k, scores.get(k)))
            write_png(out.path / "masks" / f"{t:05d}.png", labels)
            if not args.no_video:
                over = overlay(source[t], labels)
                if t == 0:  # the prompt, so that a reader can judge where tracking began
                    for k, (kind, value) in prompts.items():
                        if kind == "box":
                            over = draw_box(over, value, PALETTE[(k - 1) % len(PALETTE)])
                if untrained:
                    over = stamp(over, "UNTRAINED (--random-weights)")
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
    out.info.update(frames=seen, frames_read=seen, frames_announced=source.frames_announced,
                    ended_early=source.ended_early, empty_objects=[k for k in ids if not found[k]])
    for k in ids:
        per_frame = np.zeros((seen, 4), np.float32)
        for t, box in boxes[k].items():
            per_frame[t] = box
        write_lasot_boxes(out.path / "boxes" / f"obj_{k}.txt", per_frame)
    write_csv(out.path / "scores.csv", rows, fieldnames=SCORE_FIELDS)
    if gif_frames:
        write_gif(out.path / "overlay.gif", gif_frames, fps=fps / gif_stride)
    return seen, found, mp4 is not None


TRACK_DONE = "tracked and written (manifest.json: frames_read, frames_announced, ended_early)"


def report_frames_read(name: str, source, read: int, done: str) -> None:
    """Say on stderr when a video's frames read differ from the count it announced: it ended
    early (``source.ended_early`` says why) or its container under-announced them."""
    import sys

    announced = source.frames_announced
    if read < announced:
        print(f"warning: {name}: read {read} of {announced} announced frames, the video ends "
              f"early: {source.ended_early or 'its frames ran out'}; the {read} frames read "
              f"are {done}", file=sys.stderr)
    elif read > announced:
        print(f"note: {name}: read {read} frames, {read - announced} more than its container "
              f"announces ({announced}, an estimate); all {read} are {done}", file=sys.stderr)


def report_empty(found: dict, frames: int, untrained: bool, where: str = "") -> None:
    """Say on stderr which objects have no mask on any frame (``found``: id -> frames with one;
    ``where``: a prefix of their names, e.g. the video's)."""
    warn_empty([f"{where}{k}" for k, n in found.items() if n == 0],
               f"on every one of the {frames} frames", untrained)


def warn_empty(names: list[str], span: str, untrained: bool) -> None:
    """The one warning for objects that were never segmented (``track``, ``eval``)."""
    import sys

    if not names:
        return
    why = ("expected with --random-weights: the model is untrained" if untrained else
           "check the prompt (a box around the object on frame 0) and that the checkpoint fits --model")
    print(f"warning: object(s) {', '.join(names)} empty {span} (nothing was segmented; {why})",
          file=sys.stderr)


def is_untrained(args) -> bool:
    """Whether a run's SAM 2 model has random weights (``--random-weights``, no checkpoint)."""
    return args.checkpoint is None and not args.model.startswith(HF_PREFIX)


def run_info(args, predictor) -> dict:
    """What a run's manifest records so that it can be reproduced: the command line, the model
    and every input file's SHA-256 (checkpoint, adapter files, noise calibration)."""
    from samurai.io import fingerprint

    cfg = predictor.samurai_config
    return {
        "command": args.command,
        "argv": getattr(args, "argv", None),
        "model": args.model,
        "image_size": int(predictor.image_size),
        "checkpoint": args.checkpoint,
        "checkpoint_sha256": fingerprint(args.checkpoint),
        "random_weights": is_untrained(args),
        "seed": getattr(args, "seed", None),
        "adapter": args.adapter,
        "adapter_sha256": fingerprint(args.adapter),
        "noise": args.noise,
        "noise_sha256": fingerprint(args.noise),
        "motion_model": cfg.motion_model,
        "device": str(predictor.device),
    }


def prompt_info(args) -> dict:
    """The first-frame prompts of ``track`` as given: boxes, or the mask file and its SHA-256."""
    from samurai.io import file_sha256

    if args.box:
        return {"frame": 0, "boxes": [list(parse_box(b)) for b in args.box]}
    return {"frame": 0, "mask": str(args.mask), "mask_sha256": file_sha256(args.mask)}


SCORE_FIELDS = [
    "frame", "obj_id", "prompt", "chosen", "predicted_iou", "object_score", "motion_iou",
    "stable_frames", "memory_frames",
]


def _score_row(t: int, obj_id: int, s: dict | None) -> dict:
    import numpy as np

    if s is None:  # a prompted (conditioning) frame: SAM 2 makes one mask, no choice
        return {"frame": t, "obj_id": obj_id, "prompt": 1}
    if "chosen" not in s:  # a tracked frame whose tracker keeps only the object score
        return {"frame": t, "obj_id": obj_id, "prompt": 0, "object_score": float(s["object_score"])}
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
