"""Building the plain SAM 2 model that training drives."""

from __future__ import annotations

import os

import torch

_SHORT_NAMES = {
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
    "medsam2": "configs/sam2.1/sam2.1_hiera_t.yaml",
}


def build_model(
    name_or_config: str = "tiny",
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = 256,
) -> torch.nn.Module:
    """A ``SAM2Base`` without inference post-processing (training uses raw outputs).

    Uses the backend's builder (``backends.sam2_backend``), falling back to ``sam2.build_sam``
    with the short names "tiny", "small", "base_plus", "large", "medsam2" when the backend is
    not importable.
    """
    try:
        from backends.sam2_backend.build import build_sam2_model
    except ImportError:
        build_sam2_model = None
    if build_sam2_model is not None:
        return build_sam2_model(
            name_or_config, checkpoint, device=device, image_size=image_size,
            apply_postprocessing=False, mode="eval",
        )
    from sam2.build_sam import build_sam2

    config = _SHORT_NAMES.get(name_or_config, name_or_config)
    overrides = [f"++model.image_size={image_size}"] if image_size else []
    return build_sam2(
        config, None if checkpoint is None else str(checkpoint), device=str(device),
        mode="eval", hydra_overrides_extra=overrides, apply_postprocessing=False,
    )
