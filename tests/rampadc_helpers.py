"""Shared test helpers for the ramp-ADC tests."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def one_torch_thread() -> Iterator[None]:
    """Run a test on one torch thread (tiny recurrent loops slow down badly when 2 threads share 2 busy cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
