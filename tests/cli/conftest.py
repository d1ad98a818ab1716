"""Fixtures shared by the CLI tests."""

import pytest


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run SAM 2 on one intra-op thread in these tests.

    The tests' inputs are tiny (256 px, a few objects), so a second thread gains little; on a
    shared 2-core machine its spin-waiting made the runs 3x slower in wall time and in CPU time.
    """
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
