"""Shared helpers for the phyff tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run with one torch thread: tiny matmuls on a shared 2-core machine are slower with more."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
