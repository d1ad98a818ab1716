"""These tests run SAM 2 on one torch thread (``fixtures_sam2.single_torch_thread`` says why)."""

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(single_torch_thread):
    yield
