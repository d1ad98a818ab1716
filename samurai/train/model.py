"""Building the plain SAM 2 model that training drives."""

from __future__ import annotations

import os

import torch


def build_model(
    name_or_config: str = "tiny",
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = 256,
) -> torch.nn.Module:
    """A ``SAM2Base`` in eval mode without inference post-processing (training uses raw
    outputs), from the backend's builder: short names "tiny", "small", "base_plus", "large",
    "medsam2" or a config path; ``checkpoint`` in the official ``{"model": ...}`` format."""
    from samurai_sam2 import build_sam2_model

    return build_sam2_model(
        name_or_config, checkpoint, device=device, image_size=image_size,
        apply_postprocessing=False, mode="eval",
    )
