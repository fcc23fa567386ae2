"""Fixtures of the fault-injection suite: a fresh work folder of copied examples per test."""

from __future__ import annotations

import pytest

from faults.fault_matrix import make_work


@pytest.fixture
def work(tmp_path):
    """Return a fresh work folder holding copies of the digits models and data, a sweep spec and a gate config."""
    return make_work(tmp_path / "work")
