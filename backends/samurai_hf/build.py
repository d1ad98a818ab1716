"""Build a SAMURAI video model from a transformers folder or model (the one constructor)."""

from __future__ import annotations

import json
from pathlib import Path

from samurai_hf.model import FAMILIES, check_transformers_version


def read_family(folder) -> str:
    """The ``model_type`` of a transformers folder's ``config.json``, checked to be a tracker.

    Raises ValueError naming the problem and the fix.
    """
    folder = Path(folder)
    config = folder / "config.json"
    if not folder.is_dir():
        raise ValueError(
            f"{folder} is not a folder; pass a transformers model folder (save_pretrained output)"
        )
    if not config.is_file():
        raise ValueError(f"{folder} has no config.json; pass a folder written by save_pretrained")
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except json.JSONDecodeError as err:
        raise ValueError(f"{config} is not valid JSON ({err})") from None
    if model_type not in FAMILIES:
        raise ValueError(
            f"{folder} holds a {model_type!r} model; samurai_hf tracks with the video trackers "
            f"{sorted(FAMILIES)} (e.g. facebook/sam2.1-hiera-tiny, yonigozlan/EdgeTAM-hf, "
            f"facebook/sam3 via Sam3TrackerVideoModel), saved with save_pretrained"
        )
    return model_type


def _check_samurai_argument(samurai) -> None:
    """Refuse a bad ``samurai`` argument before any model is loaded."""
    import samurai_core as sc

    if isinstance(samurai, str):
        sc.preset(samurai)  # an unknown name raises, naming the known ones
    elif samurai is not None and not isinstance(samurai, sc.SamuraiConfig):
        raise TypeError(
            f"samurai must be a preset name (e.g. 'tiny'), a samurai_core.SamuraiConfig or None "
            f"(off); got {type(samurai).__name__}"
        )


def build_samurai_hf_model(
    path_or_model, samurai="tiny", jax_device=None, batch_objects=False, **from_pretrained_kwargs
):
    """A transformers SAM 2 / EdgeTAM / SAM 3 tracker video model with SAMURAI.

    Args:
      path_or_model: a local transformers folder (``save_pretrained`` output of a
        ``Sam2VideoModel``, ``EdgeTamVideoModel`` or ``Sam3TrackerVideoModel``; the family is
        read from its ``config.json``) or such a model (converted in place: same weights).
      samurai: a ``samurai_core`` preset name (taken with the model's memory sizes,
        ``model.samurai_preset(name)``), a ``SamuraiConfig`` (whose ``num_maskmem`` and
        ``max_obj_ptrs_in_encoder`` must be the model's), or None (the library's own tracker,
        bitwise).
      jax_device: where the core runs (default: the CPU).
      batch_objects: all tracked objects of a frame in one pass (``model.batch_objects``,
        settable between calls; docs/backend.md); False: one by one, the library's structure.
      from_pretrained_kwargs: passed to ``from_pretrained`` (e.g. ``torch_dtype``).

    Returns:
      the model in eval mode, used exactly as the library's::

        model = build_samurai_hf_model("edgetam-folder")  # was: EdgeTamVideoModel.from_pretrained
        session = processor.init_video_session(video=frames, inference_device="cpu")
        processor.add_inputs_to_inference_session(session, frame_idx=0, obj_ids=1,
                                                  input_boxes=[[[x0, y0, x1, y1]]])
        model(inference_session=session, frame_idx=0)
        for out in model.propagate_in_video_iterator(session):
            ...
    """
    check_transformers_version()
    _check_samurai_argument(samurai)
    if isinstance(path_or_model, (str, Path)):
        # Loaded by the library's own class: its weight-name conversions are looked up for it
        # (a subclass misses SAM 3's, leaving the vision encoder random).
        base, cls = FAMILIES[read_family(path_or_model)]
        model = base.from_pretrained(str(path_or_model), **from_pretrained_kwargs)
    else:
        model = path_or_model
        for base, cls in FAMILIES.values():
            if type(model) in (base, cls):
                break
        else:
            raise TypeError(
                f"expected a folder or one of {[b.__name__ for b, _ in FAMILIES.values()]}; got "
                f"{type(model).__name__}"
            )
    # The mixin adds methods only (no parameters, no buffers): the class swap keeps the weights.
    library_class, model.__class__ = type(model), cls
    try:
        config = model.samurai_preset(samurai) if isinstance(samurai, str) else samurai
        model.configure_samurai(config, jax_device)
    except ValueError:
        model.__class__ = library_class  # a refused config leaves a given model as it was
        raise
    model.batch_objects = bool(batch_objects)
    return model.eval()


def load_processor(folder, image_size: int | None = None):
    """The folder's processor (``AutoProcessor``), or the family's default one at the model's
    input size when the folder has none (a model saved without its processor)."""
    folder = Path(folder)
    if (folder / "processor_config.json").is_file() or (folder / "preprocessor_config.json").is_file():
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(str(folder))
    family = read_family(folder)
    if image_size is None:
        image_size = int(json.loads((folder / "config.json").read_text()).get("image_size", 1024))
    return default_processor(family, image_size)


def default_processor(family: str, image_size: int):
    """The family's processor with its default settings at ``image_size`` pixels."""
    from transformers import Sam2ImageProcessor, Sam2VideoProcessor, Sam2VideoVideoProcessor

    size = {"height": image_size, "width": image_size}
    mask_size = {"height": image_size // 4, "width": image_size // 4}
    if family == "sam3_tracker_video":
        from transformers import Sam3ImageProcessor, Sam3TrackerVideoProcessor
        from transformers.image_utils import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD

        # SAM 3 normalises with mean = std = 0.5 (Sam3ImageProcessor's defaults).
        return Sam3TrackerVideoProcessor(
            image_processor=Sam3ImageProcessor(size=size, mask_size=mask_size),
            video_processor=Sam2VideoVideoProcessor(
                size=size, image_mean=IMAGENET_STANDARD_MEAN, image_std=IMAGENET_STANDARD_STD
            ),
        )
    # EdgeTAM's processor is SAM 2's.
    return Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(size=size, mask_size=mask_size),
        video_processor=Sam2VideoVideoProcessor(size=size),
    )
