"""Fixtures shared by the engine tests."""
import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module's duration (restored after): per-hop work is a few small kernels, and on a
    shared 2-core machine intra-op threads only add waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
