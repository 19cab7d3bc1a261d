"""Fixtures shared by the engine tests."""

import pytest
import torch

from pesto_core import load_model


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module's duration (restored after): per-hop work is a few small kernels, and on a
    shared 2-core machine intra-op threads only add waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():
    """The bundled mir-1k_g7 model with a 10 ms step (one per test module)."""
    return load_model("mir-1k_g7", 10.0)
