"""One predictor factory for every backend: a SAM 2 model size (``samurai_sam2``) or ``hf:DIR``
(``samurai_hf``: transformers SAM 2, EdgeTAM, SAM 3 tracker), with checkpoint, LoRA adapter,
SAMURAI's motion model and noise, device, input size and the seed of random weights.

Every user error (a missing file, a flag that does not fit the model) becomes a
:class:`samurai.errors.UserError` naming the fix. The SAMURAI config is the one the backend
builds from the model's own memory sizes, with the user's motion model and noise applied once
(:func:`motion_config`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from samurai.errors import UserError

MODELS = ("tiny", "small", "base_plus", "large", "medsam2")
HF_PREFIX = "hf:"


def load_noise(noise, motion_model: str | None = None):
    """The calibration of ``--noise`` (a file of ``samurai calibrate``), or None without one;
    checked against ``--motion-model`` before any model is built."""
    if noise is None:
        return None
    from samurai.formats import load_calibration

    path = Path(noise)
    if not path.is_file():
        raise UserError(
            f"noise file {path} does not exist or is not a file; pass the JSON written by "
            "`samurai calibrate --out FILE`, or drop --noise for the default weights"
        )
    try:
        cal = load_calibration(path)
    except ValueError as err:
        raise UserError(f"--noise: {err}") from None
    if motion_model is not None and motion_model != cal.motion_model:
        raise UserError(
            f"--noise {path} was fitted for motion model {cal.motion_model!r} but --motion-model is "
            f"{motion_model!r}; drop --motion-model (the file's model is then used) or calibrate "
            f"again with `samurai calibrate --motion-model {motion_model}`"
        )
    return cal


def motion_config(cfg, calibration=None, motion_model: str | None = None, noise=None):
    """``cfg`` (a ``SamuraiConfig``) with the user's motion model and fitted noise applied.

    Without ``motion_model`` a calibration brings its own motion model (its weights mean
    nothing in another one); :func:`load_noise` has checked that the two agree. ``noise``: the
    calibration's path, for error messages.
    """
    if calibration is None:
        return cfg if motion_model is None else cfg._replace(motion_model=motion_model).validate()
    from samurai_core.calibrate import config_with_noise  # optax: only when used

    try:
        return config_with_noise(cfg._replace(motion_model=calibration.motion_model), calibration)
    except ValueError as err:
        raise UserError(f"--noise {Path(noise)}: {err}") from None


def samurai_config(preset_name: str, noise=None, motion_model: str | None = None):
    """The ``SamuraiConfig`` of a run without a model (the phantom demo): the preset, with
    ``--motion-model`` and ``--noise`` applied."""
    import samurai_core as sc

    return motion_config(sc.preset(preset_name), load_noise(noise, motion_model), motion_model, noise)


DTYPES = ("fp32", "bf16")


def build_predictor(
    model,
    checkpoint,
    device,
    image_size,
    samurai,
    adapter,
    random_weights,
    noise=None,
    motion_model=None,
    seed=0,
    batch_objects=False,
    compile=False,
    dtype=None,
):
    """The video predictor of a run (either backend), with every user error turned into a
    UserError.

    ``noise`` / ``motion_model`` (``--noise``, ``--motion-model``) change the SAMURAI config
    that the backend builds for the model (see :func:`motion_config`); without them it is the
    model size's preset with the model's memory sizes. Random
    weights (no ``checkpoint``) are drawn from ``seed``, so that two runs are identical.
    ``hf:DIR`` models go to the transformers backend (:func:`build_hf_predictor`).

    Speed (docs/backend.md): ``batch_objects`` runs all objects of a frame in one pass;
    ``compile`` torch.compiles the image encoder and per-frame heads and compiles them at once
    on a blank clip (:func:`warm_up`: its time is printed on stderr and recorded in the
    manifest); ``dtype``: ``None`` is the backend's default (SAM 2: bfloat16 autocast on CUDA,
    float32 on the CPU), ``"fp32"`` float32 everywhere, ``"bf16"`` bfloat16 autocast (CUDA
    only). The predictor's ``run_options`` holds the ones that differ from the default.
    """
    if dtype is not None and dtype not in DTYPES:
        raise UserError(f"--dtype {dtype!r} is not a precision; use one of {', '.join(DTYPES)}")
    if model.startswith(HF_PREFIX):
        return build_hf_predictor(
            model[len(HF_PREFIX) :],
            checkpoint,
            device,
            image_size,
            samurai,
            adapter,
            random_weights,
            noise,
            motion_model,
            batch_objects=batch_objects,
            compile=compile,
            dtype=dtype,
        )
    if checkpoint is None and not random_weights:
        raise UserError(
            f"SAM 2 model {model!r} needs weights: pass --checkpoint PATH (e.g. "
            "sam2.1_hiera_tiny.pt from the SAM 2 release; medsam2 needs a MedSAM2 .pt such as "
            "MedSAM2_US_Heart.pt); --random-weights runs an untrained model, for testing only"
        )
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise UserError(f"checkpoint {checkpoint} does not exist; pass the path of a SAM 2 .pt file")
    try:
        import torch

        from samurai_common.devices import resolve_device
        from samurai_sam2 import build_samurai_video_predictor
        from samurai_sam2.build import check_image_size
    except ImportError as err:
        raise UserError(
            f"SAM 2 tracking needs torch and sam2 ({err}); install them with "
            "`bash scripts/setup.sh full` (the demo runs without them)"
        ) from None
    try:
        if image_size is not None:
            check_image_size(image_size)
    except ValueError as err:
        raise UserError(f"--image-size: {err}") from None
    try:
        device = resolve_device(device)
    except ValueError as err:
        raise UserError(f"--device: {err}") from None
    if dtype == "bf16" and device.type != "cuda":
        raise UserError(
            f"--dtype bf16 runs on CUDA only and the device is {device}; drop --dtype "
            "(the CPU runs float32) or pass --device cuda on a machine with a GPU"
        )
    calibration = load_noise(noise, motion_model)
    if checkpoint is None:
        print(
            f"WARNING: --random-weights: the model is UNTRAINED (seed {seed}); its masks are "
            "meaningless (testing only)"
        )
    try:
        # Random-init weights come from torch's global generator: draw them from the seed, and
        # leave the caller's generator as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            predictor = build_samurai_video_predictor(
                model,
                checkpoint,
                device=device,
                samurai=samurai,
                image_size=image_size,
                batch_objects=batch_objects,
            )
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        raise UserError(f"cannot build SAM 2 model {model!r} from {checkpoint}: {err}") from None
    predictor.bf16_on_cuda = dtype != "fp32"  # None: the backend's default, bf16 on CUDA
    predictor.run_options = {
        k: v
        for k, v in (("batch_objects", bool(batch_objects)), ("compile", bool(compile)), ("dtype", dtype))
        if v
    }
    if calibration is not None or motion_model is not None:
        # The backend's config for this model (its memory sizes, its size's preset), changed once.
        predictor.configure_samurai(
            predictor.samurai, motion_config(predictor.samurai_config, calibration, motion_model, noise)
        )
    if adapter is not None:
        from samurai.train.lora import AdapterError, load_adapter

        try:
            load_adapter(predictor, adapter)
        except AdapterError as err:
            raise UserError(f"adapter {adapter} cannot be loaded into the {model} model: {err}") from None
    if compile:  # after the adapter: the modules compiled are the ones that run
        predictor.compile_model()
        seconds = warm_up(predictor)
        predictor.run_options["compile_s"] = round(seconds, 3)
        print(
            f"compiled the model in {seconds:.1f} s (a warm-up pass on a blank clip; not counted "
            "in the frame times)",
            file=sys.stderr,
            flush=True,
        )
    return predictor


def warm_up(predictor, num_frames: int = 3) -> float:
    """Seconds of one tracking pass over a blank clip of ``num_frames`` frames at the model's
    input size (two objects when batched, so that the batch size is compiled dynamic): with a
    compiled model, the compilation time, kept apart from the frames of the run. Shapes the
    clip does not reach (longer memories) may still compile once on first use."""
    import time

    import numpy as np

    size = int(predictor.image_size)
    frames = [np.zeros((size, size, 3), np.uint8) for _ in range(num_frames)]
    boxes = [(0.1, 0.1, 0.4, 0.4), (0.5, 0.5, 0.9, 0.9)][: 2 if predictor.batch_objects else 1]
    start = time.perf_counter()
    state = predictor.init_state(frames)
    for k, box in enumerate(boxes, 1):
        predictor.add_new_points_or_box(state, 0, k, box=[v * size for v in box])
    for _ in predictor.propagate_in_video(state):
        pass
    return time.perf_counter() - start


def build_hf_predictor(
    folder,
    checkpoint,
    device,
    image_size,
    samurai,
    adapter,
    random_weights,
    noise=None,
    motion_model=None,
    batch_objects=False,
    compile=False,
    dtype=None,
):
    """The transformers backend's predictor for ``--model hf:DIR`` (SAM 2, EdgeTAM or SAM 3
    tracker, read from the folder's config), with user errors as UserErrors. ``batch_objects``
    runs all objects of a frame in one pass, as for SAM 2 models; it runs eager, in float32:
    ``compile`` and ``dtype="bf16"`` are refused."""
    for flag, value in (
        ("--compile", compile),
        ("--dtype bf16", dtype == "bf16"),
    ):
        if value:
            raise UserError(
                f"{flag} is for SAM 2 models (--model {', '.join(MODELS)}); the "
                "transformers backend (--model hf:DIR) runs eager, in float32: drop the flag"
            )
    for flag, value in (
        ("--checkpoint", checkpoint),
        ("--image-size", image_size),
        ("--random-weights", random_weights or None),
    ):
        if value is not None:
            raise UserError(
                f"{flag} is for SAM 2 models; --model hf:DIR takes the weights and input "
                "size from the folder (drop the flag)"
            )
    if not Path(folder).is_dir():
        raise UserError(
            f"--model hf:{folder}: {folder} is not a folder; pass a transformers model "
            "folder written by save_pretrained"
        )
    try:
        from samurai_common.devices import resolve_device
        from samurai_hf import (
            HFVideoPredictor,
            TransformersVersionError,
            build_samurai_hf_model,
            load_processor,
        )
    except ImportError as err:
        raise UserError(
            f"--model hf:DIR needs torch and transformers ({err}); install them with "
            "pip install 'samurai-track[hf]'"
        ) from None
    calibration = load_noise(noise, motion_model)  # checked before the model loads
    try:
        model = build_samurai_hf_model(folder, samurai=None)
        processor = load_processor(folder)
    except (TransformersVersionError, ValueError, OSError) as err:
        raise UserError(f"cannot load --model hf:{folder}: {err}") from None
    try:
        model.to(resolve_device(device))
    except ValueError as err:
        raise UserError(f"--device: {err}") from None
    if adapter is not None:
        from samurai.train.lora import AdapterError, load_adapter

        try:
            load_adapter(model, adapter)
        except AdapterError as err:
            raise UserError(f"adapter {adapter} does not fit the model in {folder}: {err}") from None
    predictor = HFVideoPredictor(model, processor)  # the backend's config for this model
    predictor.configure_samurai(
        enabled=samurai, config=motion_config(predictor.samurai_config, calibration, motion_model, noise)
    )
    predictor.batch_objects = batch_objects
    predictor.run_options = {"batch_objects": True} if batch_objects else {}
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
    tiny = np.exp(
        np.interp(np.log(image_size), np.log(sizes), np.log([CPU_SECONDS_PER_FRAME[s] for s in sizes]))
    )
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
    line = (
        f"note: running on the CPU at {size} px: about {total(size)}{scope} "
        "(a rough estimate; machines differ)"
    )
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


def predictor_from_args(args, device, **overrides):
    """:func:`build_predictor` with a command's model options (``--model``, ``--checkpoint``,
    ``--image-size``, ``--adapter``, ``--random-weights``, ``--noise``, ``--motion-model``,
    ``--seed``, ``--vanilla``, ``--batch-objects``, ``--compile``, ``--dtype``); ``overrides`` win
    (e.g. eval's ``samurai=True`` and its own adapter)."""
    options = dict(
        samurai=not getattr(args, "vanilla", False),
        adapter=args.adapter,
        random_weights=args.random_weights,
        noise=args.noise,
        motion_model=args.motion_model,
        seed=args.seed,
        batch_objects=args.batch_objects,
        compile=args.compile,
        dtype=args.dtype,
    )
    options.update(overrides)
    return build_predictor(args.model, args.checkpoint, device, args.image_size, **options)


def is_untrained(model: str, checkpoint) -> bool:
    """Whether a run's SAM 2 model has random weights (``--random-weights``, no checkpoint)."""
    return checkpoint is None and not model.startswith(HF_PREFIX)
