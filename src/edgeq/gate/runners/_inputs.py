"""Shared input handling for runners: eval arrays split into model feeds and labels, and ORT sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import UserError
from ...io import load_arrays


def require(value: Path | None, what: str, case_name: str, command: str) -> Path:
    """Return a required case path, or raise UserError saying which key to add."""
    if value is None:
        raise UserError(f"case {case_name!r}: command {command!r} needs `{what}:` in the gate config")
    return value


def eval_feeds(path: Path, input_names: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Return the eval arrays keyed by model input name, and the labels (None if the file has none)."""
    arrays = load_arrays(path)
    missing = [name for name in input_names if name not in arrays]
    if missing:
        raise UserError(f"eval data {path} lacks array(s) {', '.join(missing)} for the model inputs; "
                        f"it has {', '.join(sorted(arrays))}")
    labels = arrays.get("labels")
    return {name: arrays[name] for name in input_names}, labels


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
