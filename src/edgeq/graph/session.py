"""The one onnxruntime session factory: every session edgeq builds (reference, checks, latency, simulators) comes
from here, so option sets cannot drift apart.

Modes:
    "ort_default"       SessionOptions() as a user creates it (all graph optimizations on): what users run.
    "ort_disable_all"   every graph optimization off: ONNX semantics, op by op.
    "ort_basic"         ORT_ENABLE_BASIC: constant folding and redundant-node removal, no fusions.
    "reference"         every optimization off and one thread: deterministic, bit for bit, for edgeq's own
                        reference simulation.
"""

from __future__ import annotations

import os

import onnx
import onnxruntime as ort

from ..errors import UserError

MODES = ("ort_default", "ort_disable_all", "ort_basic", "reference")


def session_options(mode: str = "ort_default", threads: int | None = None) -> ort.SessionOptions:
    """Return the SessionOptions of a mode (see the module docstring); `threads` fixes the intra-op thread count
    (one thread: reductions in a fixed order, the same bits on every machine)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if mode in ("ort_disable_all", "reference"):
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    elif mode == "ort_basic":
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    elif mode != "ort_default":
        raise ValueError(f"unknown session mode {mode!r}; use one of {MODES}")
    if mode == "reference":
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if mode in ("ort_disable_all", "reference"):
        # analysis sessions (edgeq's reference, observation, checks) fetch many large tensors: without the arena
        # their memory is returned after each run instead of staying at the largest run's peak per session
        opts.enable_cpu_mem_arena = False
    return opts


def ort_session(
    model: onnx.ModelProto | bytes | str | os.PathLike, mode: str = "ort_default", *, what: str = "the model",
    optimized_path: str | os.PathLike | None = None, threads: int | None = None,
) -> ort.InferenceSession:
    """Return a CPU InferenceSession for `model` in `mode`; a model ORT refuses is a UserError naming `what`.

    `optimized_path`: also write the graph as ORT optimized it there (to see which kernels it fused).
    """
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    elif not isinstance(model, bytes):
        model = os.fspath(model)
    opts = session_options(mode, threads)
    if optimized_path is not None:
        opts.optimized_model_filepath = os.fspath(optimized_path)
    try:
        return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises its own exception types (Fail, InvalidGraph, NotImplemented)
        raise UserError(
            f"onnxruntime cannot load {what} ({str(err).strip().splitlines()[0][:300] if str(err).strip() else err!r}); "
            "check that it runs in onnxruntime"
        ) from None
