"""Measure a quantized model: FP32 vs quantized in onnxruntime, the three-way fidelity check, per-layer blame,
size and latency; returns the `QuantReport`."""

from __future__ import annotations

import numpy as np
import onnx

from .config import QuantConfig
from ..data import batches
from ..graph.native import native_activation
from ..graph.plan import TensorQuant
from ..graph.points import QuantPoints
from ..graph.qdq import weight_is_native
from ..metrics import sqnr_db, top1_accuracy, top1_agreement
from .sensitivity import layer_sensitivity
from ..errors import UserError
from .report import QuantReport
from .runtime import check_fidelity, fast_path_note, latency_ms, likely_cause, run_batched, runtime_ops, session
from .reference import StagedSimulator, plan_inputs

LATENCY_BATCH = 64
SENSITIVITY_SAMPLES = 256  # per-layer sensitivity ranks layers; a subset of the eval data is enough for that


def measure(
    *, float_model: onnx.ModelProto, model_q: onnx.ModelProto, sim: StagedSimulator, plan: list[TensorQuant],
    points: QuantPoints, config: QuantConfig, eval_data, labels, batch: int, stored: dict[str, int], mixed,
    notes: list[str], n_calib: int, timing: dict[str, float],
) -> QuantReport:
    """Return the report of a quantized model measured on `eval_data`."""
    fp32_sess = session(float_model)
    fp32 = run_batched(fp32_sess, eval_data, batch)
    transforms, params = plan_inputs(sim, plan)
    reference, point_sqnr = _reference_run(sim, eval_data, batch, transforms, params)
    fidelity, outputs = check_fidelity(model_q, reference, eval_data, batch)
    quant = outputs["ort_default"]
    fid = {}
    for mode, f in fidelity.items():
        fid[mode] = f.to_dict()
        if not f.ok:
            fid[mode]["likely_cause"] = likely_cause(model_q, mode)

    acc_fp32 = top1_accuracy(fp32, labels) if labels is not None else None
    acc_q = top1_accuracy(quant, labels) if labels is not None else None
    acc_ref = top1_accuracy(reference, labels) if labels is not None else None
    n_sens = min(fp32.shape[0], SENSITIVITY_SAMPLES)
    per_layer = layer_sensitivity(sim, plan, points.nodes, {k: v[:n_sens] for k, v in eval_data.items()}, batch,
                                  fp32[:n_sens])
    tensors = _tensor_table(sim, plan, points, point_sqnr, params, stored)
    feed = next(batches(eval_data, min(batch, LATENCY_BATCH)))
    lat_fp32 = latency_ms(fp32_sess, feed)
    lat_q = latency_ms(session(model_q), feed)
    ran = runtime_ops(model_q)
    slow = fast_path_note(ran)
    if slow:
        notes.append(slow)
    if any(t["exported_as"] != "QDQ" for t in tensors.values()):
        notes.append('"pattern" and "codes+decode": formats without native Q/DQ in ONNX are written as an exact '
                     "fake-quant pattern of standard ops, so every runtime computes the simulated numerics (in float, "
                     "with no integer speed-up)")
    if {"LSTM", "GRU", "RNN"} & set(points.float_ops):
        notes.append("recurrent ops (LSTM/GRU/RNN) stay in float; the Gemm/MatMul around them are quantized")
    return QuantReport(
        model=float_model.graph.name or "model",
        weights=config.weights.name, acts=config.acts.name, granularity=config.granularity.describe(),
        calib_method=config.calib_method.describe(), n_calib=n_calib, n_eval=int(fp32.shape[0]),
        accuracy_fp32=acc_fp32, accuracy_quant=acc_q, accuracy_reference=acc_ref,
        accuracy_drop_pp=None if acc_fp32 is None else 100.0 * (acc_fp32 - acc_q),
        sqnr_db=sqnr_db(fp32, quant), agreement=top1_agreement(fp32, quant),
        max_abs_error=float(np.max(np.abs(fp32 - quant))),
        fidelity=fid, fidelity_ok=all(f.ok for f in fidelity.values()),
        per_layer=per_layer, tensors=tensors,
        formats={name: t["format"] for name, t in tensors.items()},
        exported_as={name: t["exported_as"] for name, t in tensors.items()},
        float_ops=written_float_ops(model_q, points),
        size_bytes_fp32=float_model.ByteSize(), size_bytes_quant=model_q.ByteSize(),
        latency_ms_fp32=lat_fp32, latency_ms_quant=lat_q, runtime_ops=ran,
        config=config.to_dict(),
        mixed_precision=None if mixed is None else mixed.to_dict(),
        cost=_digital_cost(model_q, notes),
        notes=notes, timing=timing,
    )


def written_float_ops(model_q: onnx.ModelProto, points: QuantPoints) -> dict[str, int]:
    """Return op type -> count of the ops the written graph computes in float (guards show as Max/Min, as written)."""
    from ..graph.points import LAYOUT_OPS

    quantized = {n.name for n in points.nodes}
    counts: dict[str, int] = {}
    for node in model_q.graph.node:
        if node.name not in quantized and node.op_type not in LAYOUT_OPS:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def _digital_cost(model_q, notes: list[str]) -> dict | None:
    """Return the quantized model's digital cost summary at 7 nm, or None with a note when the cost model can't."""
    from edgeq.hw_models.report import cost_summary

    try:
        return cost_summary(model_q, "auto", target="digital", tech="7nm")
    except (UserError, ValueError, KeyError) as err:
        notes.append(f"hardware cost not estimated: {err}")
        return None


def _reference_run(sim, data, batch, transforms, params) -> tuple[np.ndarray, dict[str, float]]:
    """Return (reference outputs, point -> SQNR of the quantized tensor vs its FP32 value), in one pass."""
    signal = dict.fromkeys(sim.points, 0.0)
    noise = dict.fromkeys(sim.points, 0.0)
    outputs = []
    for chunk in batches(data, batch):
        _, ref = sim.run(chunk, capture=True)
        out, q = sim.run(chunk, transforms, params, capture=True)
        outputs.append(out[0])
        for p in sim.points:
            a, b = ref[p].astype(np.float64), q[p].astype(np.float64)
            signal[p] += float(np.sum(a * a))
            noise[p] += float(np.sum((a - b) ** 2))
    return np.concatenate(outputs), {p: _ratio_db(signal[p], noise[p]) for p in sim.points}


def _tensor_table(sim, plan, points, point_sqnr, params, stored) -> dict[str, dict]:
    """Return tensor -> description, how it is exported, and its SQNR vs FP32 inside the quantized model."""
    node_of = {}
    for n in points.nodes:
        for t in [*n.acts, n.weight, n.bias]:
            if t:
                node_of.setdefault(t, n.name)
    table = {}
    for e in plan:
        row = e.describe()
        row["node"] = node_of.get(e.tensor, "")
        if e.role == "activation":
            row["sqnr_db"] = point_sqnr[e.tensor]
            row["exported_as"] = "QDQ" if native_activation(e.fmt) else "pattern"
        else:
            row["sqnr_db"] = sqnr_db(sim.params[e.tensor].astype(np.float32), params[e.tensor])
            row["exported_as"] = "QDQ" if weight_is_native(e) else "codes+decode"
            row["stored_bytes"] = stored[e.tensor]
        table[e.tensor] = row
    return table


def _ratio_db(signal: float, noise: float) -> float:
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(signal / noise))
