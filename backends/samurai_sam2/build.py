"""Building SAM 2 / SAM 2.1 models and SAMURAI predictors from sam2's shipped configs.

Mirrors ``sam2.build_sam`` (hydra ``compose`` + ``instantiate``, the predictor class chosen by a
``_target_`` override) and adds what users trip over: short model names, an image-size override,
and checkpoint errors that say what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import sam2  # noqa: F401  (initialises hydra's config module for sam2's configs)
import torch
from hydra import compose
from hydra.utils import instantiate
from omegaconf import OmegaConf

from samurai_common.devices import resolve_device
from samurai_sam2.compat import check_sam2
from samurai_sam2.predictor import SamuraiVideoPredictor

# Short name -> config inside the sam2 package. SAM 2.1 by default; "sam2-*" are SAM 2.0.
# MedSAM2 checkpoints are fine-tuned SAM 2.1 hiera-tiny models.
MODEL_CONFIGS: dict[str, str] = {
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
    "sam2-tiny": "configs/sam2/sam2_hiera_t.yaml",
    "sam2-small": "configs/sam2/sam2_hiera_s.yaml",
    "sam2-base_plus": "configs/sam2/sam2_hiera_b+.yaml",
    "sam2-large": "configs/sam2/sam2_hiera_l.yaml",
    "medsam2": "configs/sam2.1/sam2.1_hiera_t.yaml",
}

# Input size of a model when the caller gives none. MedSAM2's checkpoints were trained at 512
# px (its own config, sam2.1_hiera_t512.yaml, is SAM 2.1 hiera-tiny with image_size 512);
# the others use their config's size (1024).
DEFAULT_IMAGE_SIZE: dict[str, int] = {"medsam2": 512}

# The official SAMURAI code's config names -> the matching SAM 2.1 config. Its configs are SAM
# 2.1's plus the SAMURAI hyper-parameters, which ``samurai_core.preset`` of the same model size
# holds (kf_score_weight 0.15 for L, 0.25 otherwise), so code written for it runs unchanged.
SAMURAI_CONFIG_ALIASES: dict[str, str] = {
    f"configs/samurai/sam2.1_hiera_{s}.yaml": f"configs/sam2.1/sam2.1_hiera_{s}.yaml"
    for s in ("t", "s", "b+", "l")
}

# SAM 2's image encoder (hiera) downsamples by 4 in its patch embedding and by 2 in each of its
# three pooling stages, and the FPN neck adds the stride-32 map to the upsampled stride-16 one:
# any other size fails deep inside the backbone with a shape mismatch.
IMAGE_SIZE_MULTIPLE = 32

# Model size of each config file, by the suffix sam2 uses (hiera _t/_s/_b+/_l): selects the
# SAMURAI preset (samurai_core.preset), since the official hyper-parameters differ by size.
_SIZE_BY_SUFFIX = {"t": "tiny", "s": "small", "b+": "base_plus", "l": "large"}

# What sam2.build_sam adds for inference ("apply_postprocessing"): kept identical so that a
# predictor built here with SAMURAI off is bitwise SAM 2.
_POSTPROCESSING_MODEL = (
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
)
_POSTPROCESSING_PREDICTOR = _POSTPROCESSING_MODEL + (
    "++model.binarize_mask_from_pts_for_mem_enc=true",
    "++model.fill_hole_area=8",
)

PREDICTOR_TARGET = "samurai_sam2.predictor.SamuraiVideoPredictor"


def available_configs() -> list[str]:
    """The model config names shipped inside the installed sam2 package."""
    root = resources.files("sam2")
    names = []
    for sub in ("configs/sam2", "configs/sam2.1"):
        folder = root.joinpath(sub)
        if folder.is_dir():
            names += [f"{sub}/{p.name}" for p in folder.iterdir() if p.name.endswith(".yaml")]
    return sorted(names)


def resolve_config(model_name_or_config: str) -> str:
    """Map a short model name or a config path to the config name hydra can compose.

    >>> resolve_config("tiny")
    'configs/sam2.1/sam2.1_hiera_t.yaml'
    """
    name = str(model_name_or_config)
    if name in MODEL_CONFIGS:
        return MODEL_CONFIGS[name]
    if name.lstrip("/") in SAMURAI_CONFIG_ALIASES:
        return SAMURAI_CONFIG_ALIASES[name.lstrip("/")]
    valid = available_configs()
    candidate = name.lstrip("/")
    if candidate in valid:
        return candidate
    # sam2 also accepts "sam2.1/sam2.1_hiera_t.yaml"-style names relative to configs/.
    if f"configs/{candidate}" in valid:
        return f"configs/{candidate}"
    raise ValueError(
        f"unknown SAM 2 model or config {name!r}; use a short name "
        f"({', '.join(MODEL_CONFIGS)}) or one of sam2's configs ({', '.join(valid)})"
    )


def model_size(model_name_or_config: str) -> str:
    """The SAMURAI preset name ("tiny", "small", "base_plus", "large") of a model or config."""
    stem = Path(resolve_config(model_name_or_config)).stem  # e.g. sam2.1_hiera_b+
    return _SIZE_BY_SUFFIX[stem.rsplit("_", 1)[-1]]


def check_image_size(image_size) -> int:
    """Return ``image_size`` if SAM 2 can run at it, else raise ValueError naming the fix.

    The one rule for every entry point (CLI, training, the builders): a positive multiple of
    ``IMAGE_SIZE_MULTIPLE`` (32).

    >>> check_image_size(512)
    512
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
        raise ValueError(f"image_size={image_size!r} must be a positive int (e.g. 1024, 512, 256)")
    if image_size % IMAGE_SIZE_MULTIPLE:
        lower = max(IMAGE_SIZE_MULTIPLE, image_size // IMAGE_SIZE_MULTIPLE * IMAGE_SIZE_MULTIPLE)
        raise ValueError(
            f"image_size={image_size} must be a multiple of {IMAGE_SIZE_MULTIPLE} (SAM 2's image "
            f"encoder downsamples by {IMAGE_SIZE_MULTIPLE}); use e.g. {lower} or "
            f"{lower + IMAGE_SIZE_MULTIPLE}"
        )
    return image_size


def default_image_size(model_name_or_config: str) -> int | None:
    """The input size a model runs at when none is given (None: its config's, 1024)."""
    return DEFAULT_IMAGE_SIZE.get(str(model_name_or_config))


def _image_size_override(model_name_or_config: str, image_size: int | None) -> list[str]:
    if image_size is None:
        image_size = default_image_size(model_name_or_config)
        if image_size is None:
            return []
    return [f"++model.image_size={check_image_size(image_size)}"]


def _short(keys: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_checkpoint(model: torch.nn.Module, ckpt_path: str | os.PathLike | None) -> None:
    """Load an official-format checkpoint (``{"model": state_dict}``) into ``model``, strictly.

    Raises FileNotFoundError / ValueError naming the problem and the fix: a missing file, a file
    that is not a PyTorch checkpoint, a checkpoint without weights, missing or unexpected keys
    (listed), or tensors whose shapes do not match (another model size or image size).
    """
    if ckpt_path is None:
        return
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(path)!r} does not exist; pass the path of a SAM 2 checkpoint "
            f"(e.g. sam2.1_hiera_tiny.pt) or ckpt_path=None for random weights"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message suggests weights_only=False; never pass that on: it runs the file's
        # code. An official checkpoint loads with weights_only=True.
        detail = str(err).partition("WeightsUnpickler error:")[2].strip().split("\n")[0].strip()
        raise ValueError(
            f"{str(path)!r} is not an official SAM 2 checkpoint: a weights-only load refused it"
            f"{f' ({detail})' if detail else ''}. Official checkpoints hold only tensors "
            f"({{'model': state_dict}}); never load an untrusted pickle (weights_only=False "
            f"runs whatever code the file holds). Use a checkpoint from the SAM 2 / MedSAM2 "
            f"release, or re-save your own with torch.save({{'model': model.state_dict()}}, path)"
        ) from None
    except Exception as err:  # torch raises several types for damaged files (zip, EOF, ...)
        raise ValueError(
            f"{str(path)!r} is not a readable PyTorch checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); the file is damaged or not a .pt "
            f"file: download it again"
        ) from None
    if isinstance(loaded, Mapping) and "model" in loaded:
        state_dict = loaded["model"]
    elif isinstance(loaded, Mapping) and loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        state_dict = loaded  # a bare state dict, as some fine-tuned releases ship
    else:
        keys = list(loaded)[:8] if isinstance(loaded, Mapping) else type(loaded).__name__
        raise ValueError(
            f"{str(path)!r} holds no SAM 2 weights (found {keys}); the official format is "
            f"{{'model': state_dict}}"
        )
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"{str(path)!r}: 'model' is a {type(state_dict).__name__}, not a state dict")

    own = model.state_dict()
    missing = sorted(k for k in own if k not in state_dict)
    unexpected = sorted(k for k in state_dict if k not in own)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_short(unexpected)}")
        raise ValueError(
            f"checkpoint {str(path)!r} does not match the model ({'; '.join(parts)}); "
            f"build the model from the config the checkpoint was trained with "
            f"(e.g. 'sam2-tiny' for SAM 2.0, 'tiny' for SAM 2.1 checkpoints)"
        )
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in own.items()
        if tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if mismatched:
        raise ValueError(
            f"checkpoint {str(path)!r} has tensors of other shapes ({_short(mismatched, 4)}); "
            f"use the model size and image_size it was trained with"
        )
    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(
            f"checkpoint {str(path)!r} has NaN or infinite weights in {len(bad)} tensor(s) "
            f"({_short(bad)}); it would give empty masks: the file is damaged or came from a "
            f"diverged training run, use another checkpoint"
        )
    model.load_state_dict(state_dict, strict=True)


def default_device() -> torch.device:
    """CUDA when available, else CPU (``samurai_common.resolve_device(None)``)."""
    return resolve_device(None)


def _compose(config: str, overrides: Sequence[str]):
    cfg = compose(config_name=config, overrides=list(overrides))
    OmegaConf.resolve(cfg)
    return cfg


def build_sam2_model(
    model_name_or_config: str,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
    hydra_overrides_extra: Sequence[str] = (),
    apply_postprocessing: bool = True,
    mode: str = "eval",
) -> torch.nn.Module:
    """The plain ``SAM2Base`` model (for training and image use), optionally with weights.

    >>> model = build_sam2_model("tiny", image_size=256)  # random weights
    """
    config = resolve_config(model_name_or_config)
    device = resolve_device(device)
    overrides = list(hydra_overrides_extra) + _image_size_override(model_name_or_config, image_size)
    if apply_postprocessing:
        overrides += list(_POSTPROCESSING_MODEL)
    model = instantiate(_compose(config, overrides).model, _recursive_=True)
    load_checkpoint(model, checkpoint)
    model = model.to(device)
    if mode == "eval":
        model.eval()
    return model


def build_samurai_video_predictor(
    config_file: str,
    ckpt_path: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    mode: str = "eval",
    hydra_overrides_extra: Sequence[str] = (),
    apply_postprocessing: bool = True,
    samurai: bool = True,  # False: plain SAM 2 (bitwise the same masks)
    samurai_config=None,  # samurai_core.SamuraiConfig; default: the preset of the model size
    image_size: int | None = None,  # overrides the config's image size (++model.image_size)
    release_old_frames: bool = True,  # free per-frame outputs beyond the look-back window
    batch_objects: bool = False,  # all objects of a frame in one pass (docs/backend.md)
    compile: bool = False,  # torch.compile the image encoder and per-frame heads (docs/backend.md)
    **kwargs,
):
    """Drop-in replacement for ``sam2.build_sam.build_sam2_video_predictor``.

    Accepts the same arguments (config name or short name such as "tiny", checkpoint path,
    device, hydra overrides) and returns a :class:`SamuraiVideoPredictor`, which keeps SAM 2's
    video-predictor API. Unknown keyword arguments are ignored, as in SAM 2. The official
    SAMURAI code's config names (``configs/samurai/sam2.1_hiera_{t,s,b+,l}.yaml``) are accepted:
    the matching SAM 2.1 model with the matching SAMURAI preset.

    >>> predictor = build_samurai_video_predictor("tiny", image_size=256, device="cpu")
    >>> predictor.samurai
    True
    """
    check_sam2(SamuraiVideoPredictor)  # before building: an unsupported sam2 fails fast
    config = resolve_config(config_file)
    device = resolve_device(device)
    overrides = [f"++model._target_={PREDICTOR_TARGET}"]
    overrides += list(hydra_overrides_extra) + _image_size_override(config_file, image_size)
    if apply_postprocessing:
        overrides += list(_POSTPROCESSING_PREDICTOR)
    model = instantiate(_compose(config, overrides).model, _recursive_=True)
    load_checkpoint(model, ckpt_path)
    if samurai_config is None:
        samurai_config = model.samurai_preset(model_size(config_file))
    model.configure_samurai(enabled=samurai, config=samurai_config)
    model.release_old_frames = release_old_frames
    model.batch_objects = bool(batch_objects)
    model = model.to(device)
    if mode == "eval":
        model.eval()
    if compile:
        model.compile_model()
    return model
