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
    "medsam2" or a config path; ``checkpoint`` in the official ``{"model": ...}`` format.

    ``"hf:DIR"``: a transformers SAM 2 / EdgeTAM / SAM 3 tracker folder instead (weights and
    input size from the folder; ``image_size`` must match it, ``checkpoint`` must be None).
    """
    if str(name_or_config).startswith("hf:"):
        from samurai_hf import build_samurai_hf_model

        folder = str(name_or_config)[len("hf:") :]
        if checkpoint is not None:
            raise ValueError(f"{name_or_config} carries its weights; drop the checkpoint ({checkpoint})")
        model = build_samurai_hf_model(folder, samurai=None).to(device)
        if image_size is not None and image_size != model.image_size:
            raise ValueError(
                f"the model in {folder} takes {model.image_size} px inputs; set image_size "
                f"{model.image_size} (--image-size {model.image_size})"
            )
        return model

    from samurai_sam2 import build_sam2_model

    return build_sam2_model(
        name_or_config,
        checkpoint,
        device=device,
        image_size=image_size,
        apply_postprocessing=False,
        mode="eval",
    )
