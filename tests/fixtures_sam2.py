"""Shared pytest fixtures that build small SAM 2 assets (random-init hiera-tiny at 256 px).

Torch and sam2 are imported inside the fixtures so that core-only test runs never load them.
"""

from __future__ import annotations

import pytest

TINY_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
IMAGE_SIZE = 256


@pytest.fixture(scope="session")
def sam2_tiny_checkpoint(tmp_path_factory):
    """Path of a random-init SAM 2.1 hiera-tiny checkpoint in the official format."""
    torch = pytest.importorskip("torch")
    build_sam = pytest.importorskip("sam2.build_sam")
    torch.manual_seed(0)
    model = build_sam.build_sam2(
        TINY_CONFIG,
        None,
        device="cpu",
        mode="eval",
        hydra_overrides_extra=[f"++model.image_size={IMAGE_SIZE}"],
    )
    path = tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": model.state_dict()}, path)
    return path
