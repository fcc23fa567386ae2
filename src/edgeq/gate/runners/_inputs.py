"""Shared input handling for runners: required case paths and single-threaded onnxruntime sessions."""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError


def require(value: Path | None, what: str, case_name: str, command: str) -> Path:
    """Return a required case path, or raise UserError saying which key to add."""
    if value is None:
        raise UserError(f"case {case_name!r}: command {command!r} needs `{what}:` in the gate config")
    return value


def ort_session(model_bytes: bytes):
    """Return a CPU onnxruntime session with one intra-op thread, so reductions run in a fixed order."""
    from ...graph.session import ort_session as make_session

    return make_session(model_bytes, "ort_default", threads=1)
