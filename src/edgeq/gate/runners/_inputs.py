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
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises several private exception types for invalid models
        raise UserError(f"onnxruntime cannot load the model ({' '.join(str(err).split())[:300]})") from None
