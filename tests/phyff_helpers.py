"""Shared helpers for the phyff tests."""

import pytest

from edgeq.phyff.runner import thread_limit


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run with one torch/BLAS/Numba thread: tiny matmuls on a shared 2-core machine are slower with more."""
    with thread_limit(1):
        yield
