"""Run a model in onnxruntime the ways a user will: every optimization off, and default session options.

`check_fidelity` is the three-way check: edgeq's reference simulation against both onnxruntime modes. It is public
so QAT export (issue 9) checks its graphs the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import onnx
import onnxruntime as ort

from ..data import batches
from ..graph.load import load_model
from ..graph.session import ort_session
from ..metrics import StreamingComparison, sqnr_db, top1_agreement

MODES = ("ort_disable_all", "ort_default")
# A runtime agrees with the reference when at most 1% of top-1 choices differ and the outputs stay within
# 30 dB SQNR of each other (integer kernels may round an output code differently now and then; a rewrite that
# changes the function, like dropping a ReLU, costs far more).
MAX_DISAGREEMENT = 0.01
MIN_FIDELITY_SQNR_DB = 30.0


def session(model: onnx.ModelProto | bytes, mode: str = "ort_default") -> ort.InferenceSession:
    """Return a CPU session for `mode`: "ort_default" (SessionOptions() as users create it) or "ort_disable_all"."""
    return ort_session(model, mode, what="the quantized model")


def run_batched(sess: ort.InferenceSession, data: Mapping[str, np.ndarray], batch: int) -> np.ndarray:
    """Return the first output of the session over all samples, run in batches."""
    name = sess.get_outputs()[0].name
    return np.concatenate([sess.run([name], b)[0] for b in batches(data, batch)])


def latency_ms(sess: ort.InferenceSession, feed: Mapping[str, np.ndarray], repeats: int = 20) -> float:
    """Return the median wall time (ms) of one run on `feed`, after one warm-up."""
    sess.run(None, dict(feed))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, dict(feed))
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


@dataclass(frozen=True)
class ModeFidelity:
    """How one onnxruntime mode matches the reference simulation."""

    agreement: float
    sqnr_db: float
    max_abs_error: float
    ok: bool

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


def compare(reference: np.ndarray, runtime: np.ndarray) -> ModeFidelity:
    """Return how closely runtime outputs follow the reference outputs."""
    agreement = top1_agreement(reference, runtime) if reference.ndim >= 2 else float(np.mean(reference == runtime))
    s = sqnr_db(reference, runtime)
    ok = (1.0 - agreement) <= MAX_DISAGREEMENT and s >= MIN_FIDELITY_SQNR_DB
    return ModeFidelity(agreement, s, float(np.max(np.abs(reference - runtime))), ok)


def fidelity_of(cmp: StreamingComparison) -> ModeFidelity:
    """Return the fidelity verdict of a runtime's outputs accumulated against the reference."""
    agreement = cmp.agreement if cmp.agreement is not None else 1.0
    s = cmp.sqnr_db
    ok = (1.0 - agreement) <= MAX_DISAGREEMENT and s >= MIN_FIDELITY_SQNR_DB
    return ModeFidelity(agreement, s, cmp.max_abs, ok)


def check_fidelity(
    model_q: onnx.ModelProto, reference: np.ndarray, data: Mapping[str, np.ndarray], batch: int = 256
) -> tuple[dict[str, ModeFidelity], dict[str, np.ndarray]]:
    """Run the quantized model in both ORT modes and compare each with the reference outputs.

    Returns (mode -> ModeFidelity, mode -> outputs). `reference` is what edgeq's simulation computed for the same
    data (`edgeq.ptq.reference.ReferenceModel`), or any trusted outputs (e.g. a QAT model's fake-quant forward pass).
    """
    data_bytes = model_q.SerializeToString()
    results, outputs = {}, {}
    for mode in MODES:
        out = run_batched(session(data_bytes, mode), data, batch)
        outputs[mode] = out
        results[mode] = compare(reference, out)
    return results, outputs


INTEGER_KERNELS = {"QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "QGemm", "QLinearAdd",
                   "QLinearConcat", "QLinearMul", "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearSigmoid",
                   "QLinearLeakyRelu", "QLinearSoftmax", "QAttention", "DynamicQuantizeMatMul", "MatMulNBits",
                   "MatMulIntegerToFloat", "DynamicQuantizeLSTM", "QLinearWhere", "QLinearReduceMean"}
COMPUTE_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul"}
# elementwise/activation ops a quantized CPU graph leaves in float when they sit between Q/DQ pairs
FLOAT_ISLAND_OPS = {"HardSigmoid", "HardSwish", "Sigmoid", "Tanh", "Mul", "Add", "Div", "Sub", "Pow", "Sqrt", "Log",
                    "Exp", "Erf", "Gelu", "QuickGelu", "Softmax", "LayerNormalization", "Clip", "Resize",
                    "GlobalAveragePool", "AveragePool", "ReduceMean", "Concat"}


def runtime_ops(model: onnx.ModelProto | bytes) -> dict[str, int]:
    """Return op type -> count in the graph onnxruntime's default CPU session actually runs (after its fusions)."""
    import tempfile
    from collections import Counter
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "optimized.onnx"
        ort_session(model, "ort_default", what="the quantized model", optimized_path=path)
        optimized = load_model(path, check=False)
    return dict(sorted(Counter(n.op_type for n in optimized.graph.node).items()))


def fast_path_note(ops: dict[str, int]) -> str | None:
    """Return a note on what ORT runs in float in the quantized model (no integer kernel), else None.

    Decided from the graph ORT runs, not from timings, so the same inputs give the same report.
    """
    n_int = sum(v for k, v in ops.items() if k in INTEGER_KERNELS)
    n_float = sum(v for k, v in ops.items() if k in COMPUTE_OPS)
    n_qdq = ops.get("QuantizeLinear", 0) + ops.get("DequantizeLinear", 0)
    islands = {k: v for k, v in ops.items() if k in FLOAT_ISLAND_OPS}
    notes = []
    if n_float:
        notes.append(f"{n_float} Conv/Gemm/MatMul in float between Q/DQ pairs (no fused integer kernel for those "
                     "patterns: each costs a dequantize plus the float op)")
    if islands and n_qdq > 2:
        notes.append(f"{n_qdq} QuantizeLinear/DequantizeLinear around float ops with no integer kernel ("
                     + ", ".join(f"{k} x{v}" for k, v in islands.items()) + "): each island costs a dequantize "
                     "and a quantize of its tensor")
    if not notes:
        return None
    return (f"onnxruntime (default CPU session) runs {n_int} ops as integer kernels; " + "; ".join(notes)
            + " (compare the latencies above)")


def likely_cause(model_q: onnx.ModelProto, mode: str) -> str:
    """Return the most likely reason a mode differs from the reference, from the graph's Q/DQ types."""
    types = {t.data_type for t in model_q.graph.initializer}
    if mode == "ort_disable_all":
        return "the runtime's Q/DQ or float kernels differ from the ONNX spec for these types"
    if types & {onnx.TensorProto.FLOAT8E4M3FN, onnx.TensorProto.FLOAT8E5M2}:
        return "a default graph optimization rewrote FP8 Q/DQ (e.g. ReluQuantRewrite); compare with ORT_DISABLE_ALL"
    if types & {onnx.TensorProto.INT8, onnx.TensorProto.UINT8}:
        return ("fused integer kernels round or saturate differently (u8s8 without VNNI saturates 16-bit sums: "
                "keep the default kernel-safe weights, not --full-range-int8)")
    return "a default graph optimization changed the numerics; compare with ORT_DISABLE_ALL"
