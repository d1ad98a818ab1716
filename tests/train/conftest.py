"""Shared assets of the training tests: a tiny synthetic CAMUS 2023 dataset and a clip."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run torch single-threaded in these tests: on the shared 2-core runners two threads
    spin-wait on each other and are 3-5x slower (measured); restored afterwards."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def camus_tiny(tmp_path_factory):
    """3 patients (train / val / test) × 2 views, 4 frames of 64×56."""
    from samurai.data import synthetic

    return synthetic.write_camus2023(tmp_path_factory.mktemp("camus_tiny"), n_patients=3, n_frames=4)


@pytest.fixture(scope="session")
def val_clip(camus_tiny):
    from samurai.data import open_dataset
    from samurai.train.clips import make_clip

    case = open_dataset(camus_tiny["root"], split="val")[0]
    return make_clip(case, [0, 1], 256, max_objects=2)


@pytest.fixture(scope="session")
def tiny_model(sam2_tiny_checkpoint):
    """The random-init hiera-tiny at 256 px, built once: tests take ``copy.deepcopy`` of it."""
    from samurai.train.model import build_model

    return build_model("tiny", sam2_tiny_checkpoint, image_size=256)
