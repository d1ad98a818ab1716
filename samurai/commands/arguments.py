"""Arguments that several commands share: the model (``--model``, ``--image-size``,
``--device``), SAMURAI's motion model (``--noise``, ``--motion-model``), random weights
(``--random-weights``, ``--seed``) and the source's units and study hash (``--spacing``,
``--study-salt``)."""

from __future__ import annotations

from samurai.predictors import HF_PREFIX, MODELS
from samurai_core.motion_models import MOTION_MODELS

IMAGE_SIZE_HELP = (
    "SAM 2 input size in pixels, a multiple of 32 (default: the model's, 1024; 512 for "
    "medsam2); smaller is faster and coarser: on a CPU try 512 or 256"
)


def add_model_arguments(p) -> None:
    """``--model``, ``--image-size`` and ``--device``: the SAM 2 model of a run (track, eval, demo)."""
    p.add_argument("--model", default="tiny", type=model_name, metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--image-size", type=int, default=None, metavar="PX", help=IMAGE_SIZE_HELP)
    p.add_argument(
        "--device",
        default=None,
        help="torch device: cpu, cuda, cuda:N (default: cuda when a GPU is visible, else cpu)",
    )


def add_speed_arguments(p) -> None:
    """``--batch-objects``, ``--compile`` and ``--dtype``: how a SAM 2 model runs (track, eval);
    the transformers backend (hf:DIR) takes ``--batch-objects`` and refuses the other two
    (docs/backend.md)."""
    import argparse

    from samurai.predictors import DTYPES

    p.add_argument(
        "--batch-objects",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="all objects of a frame in one pass (memory attention, mask decoder, memory "
        "encoder batched); equal to the per-object loop up to float rounding (default: off)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the image encoder and per-frame heads; compiled on a blank clip "
        "first, the compile time printed and recorded in manifest.json apart from the frames",
    )
    p.add_argument(
        "--dtype",
        choices=DTYPES,
        default=None,
        help="precision: bf16 (bfloat16 autocast, CUDA only) or fp32 (default: bf16 on CUDA, "
        "as SAM 2 runs; fp32 on the CPU)",
    )


def add_random_weights_arguments(p) -> None:
    """``--random-weights`` and its ``--seed`` (track, eval)."""
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="TESTING ONLY: run an untrained model when no --checkpoint is given",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the untrained model's weights with --random-weights, so that pipeline "
        "checks repeat exactly (default: 0)",
    )


MODEL_HELP = (
    f"SAM 2 model size ({', '.join(MODELS)}; default: tiny), or hf:DIR for a transformers SAM 2 / "
    "EdgeTAM / SAM 3 tracker folder (save_pretrained output; the family is read from its config)"
)


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


def add_source_arguments(p) -> None:
    """``--spacing`` and ``--study-salt``: what a video does not say about itself (track)."""
    p.add_argument(
        "--spacing",
        metavar="CM",
        default=None,
        type=spacing_value,
        help="pixel spacing in cm per pixel: CM (square pixels) or SX,SY (also SXxSY); for plain "
        "videos, whose spacing is otherwise unknown (values in pixels); for a DICOM it replaces "
        "the file's calibration (default: the DICOM's Ultrasound Regions or Pixel Spacing)",
    )
    p.add_argument(
        "--study-salt",
        metavar="TEXT",
        default=None,
        help="salt of the study hash that names a DICOM study in the outputs (default: "
        "$SAMURAI_STUDY_SALT, else none); a site secret makes the hash unlinkable outside the site",
    )


def spacing_value(text: str) -> tuple[float, float]:
    """``--spacing``: (sx_cm, sy_cm) (argparse turns the error into exit 2)."""
    import argparse

    from samurai_common.source_info import SpacingError, parse_spacing_flag

    try:
        return parse_spacing_flag(text)
    except SpacingError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a pixel spacing: give a positive number of cm per pixel (e.g. "
            "0.03) or two, SX,SY (cm per pixel along a row and down a column)"
        ) from None
