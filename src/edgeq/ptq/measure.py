"""Measure a quantized model feed by feed: FP32 vs quantized in onnxruntime, the three-way fidelity check, who to
blame, size and latency; returns the `QuantReport`.

Per feed, four runs and nothing kept past the feed: the float model with its quantized tensors as outputs
(ORT_DISABLE_ALL), edgeq's reference graph with every gate on (its tensors captured), and the written QDQ model
in ORT_DISABLE_ALL and in the default session. Every figure is a streaming accumulation, so memory is one feed's
activations and any output layout (time-major, several outputs) works.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from ..errors import UserError
from ..feeds import FeedSet, feed_samples
from ..graph.native import native_activation
from ..graph.plan import TensorQuant
from ..graph.points import QuantPoints
from ..graph.qdq import weight_is_native
from ..graph.session import ort_session
from ..metrics import StreamingComparison, ratio_db, sqnr_db
from ..progress import progress_bar
from .config import QuantConfig
from .reference import ObservedModel, ReferenceModel
from .report import QuantReport
from .runtime import MODES, ModeFidelity, fast_path_note, fidelity_of, likely_cause, runtime_ops
from .sensitivity import SENSITIVITY_SAMPLES, op_alone

# The three-way check and the per-tensor table run on the first feeds up to this many samples or feeds (each costs
# three extra runs); the headline figures use every eval feed.
FIDELITY_SAMPLES = 8
FIDELITY_FEEDS = 2
MIN_LATENCY_RUNS = 5


@dataclass
class MeasureInputs:
    """What `measure` compares: the models, the plan and how the reference graph selects it."""

    float_model: onnx.ModelProto
    model_q: onnx.ModelProto
    observed: ObservedModel
    reference: ReferenceModel
    gates: dict[str, bool]
    select: dict[str, int]
    plan: list[TensorQuant]
    points: QuantPoints
    weights: Mapping[str, np.ndarray]
    stored: dict[str, int]
    fp32_outputs: list[list[np.ndarray]] | None = None  # per feed, when calibration already ran the eval data


def measure(m: MeasureInputs, *, config: QuantConfig, feeds: FeedSet, mixed, notes: list[str],
            fallbacks: list[str], calib: FeedSet, timing: dict[str, float], sensitivity: bool,
            progress: bool, fidelity_samples: int = FIDELITY_SAMPLES) -> QuantReport:
    """Return the report of a quantized model measured on `feeds`.

    Every feed runs the float and the quantized model in ORT's default session (the headline figures and the
    latency); the first `fidelity_samples` samples also run edgeq's reference graph, the float model with its
    quantized tensors observed, and the quantized model at ORT_DISABLE_ALL (the three-way check and the
    per-tensor table).
    """
    # sessions are created when first needed and dropped when done, so they do not all hold memory at once
    fp32_sess = (ort_session(m.float_model, "ort_default", what="the float model") if m.fp32_outputs is None
                 else None)
    sessions = {"ort_default": ort_session(m.model_q, "ort_default", what="the quantized model")}
    names = m.observed.output_names
    variants = m.reference.variants  # kept: the analysis graphs are dropped once the three-way check is done
    quant = {n: StreamingComparison() for n in names}  # ORT default vs FP32, per output
    ref_vs_fp32 = StreamingComparison()
    fidelity = {mode: StreamingComparison() for mode in MODES}
    acts = [e for e in m.plan if e.role == "activation" and m.gates.get(e.tensor)]
    accumulated = {e.tensor: [0.0, 0.0] for e in acts}  # signal, noise: quantized-model value vs FP32 value
    local = {e.tensor: [0.0, 0.0] for e in acts}  # signal, noise: the noise this quantizer alone injects
    correct = {"fp32": 0, "quant": 0}
    n_labels, checked = 0, 0
    label_note = None
    times: dict[str, list[float]] = {"fp32": [], "quant": []}
    gates = m.gates
    for k_feed, (feed, labels) in enumerate(progress_bar(feeds.with_labels(), "measuring", progress, "run", feeds.runs)):
        fp32 = (m.fp32_outputs[k_feed] if m.fp32_outputs is not None
                else _timed(fp32_sess, names, feed, times["fp32"]))
        q = _timed(sessions["ort_default"], names, feed, times["quant"])
        for k, name in enumerate(names):
            if np.issubdtype(fp32[k].dtype, np.floating):
                quant[name].update(fp32[k], q[k])
        if checked < fidelity_samples and k_feed < FIDELITY_FEEDS:
            checked += feed_samples(feed)
            if "ort_disable_all" not in sessions:
                sessions["ort_disable_all"] = ort_session(m.model_q, "ort_disable_all", what="the quantized model")
            _, fp32_points = m.observed.run(feed)
            ref, captured = m.reference.run(feed, gates, m.select, capture=None)
            ref_vs_fp32.update(fp32[0], ref[0])
            fidelity["ort_default"].update(ref[0], q[0])
            fidelity["ort_disable_all"].update(ref[0], sessions["ort_disable_all"].run(names, feed)[0])
            for e in acts:
                t = e.tensor
                quantized = captured[f"{t}__edgeq_sel"]
                _accumulate(accumulated[t], fp32_points[t], quantized)
                _accumulate(local[t], captured.get(t, feed.get(t)), quantized)
        elif "ort_disable_all" in sessions and not sensitivity:
            del sessions["ort_disable_all"]  # the three-way check is done: free its session and the analysis graphs
            m.observed = m.reference = None
        if labels is not None:
            if fp32[0].shape[:1] != labels.shape[:1]:
                label_note = (f"labels ignored: the first output {names[0]!r} has shape {list(fp32[0].shape)}, "
                              "its first axis is not the sample axis")
            else:
                classes = fp32[0].shape[-1]
                if labels.size and labels.max() >= classes:
                    raise UserError(f"eval labels go up to {int(labels.max())} but the first output {names[0]!r} "
                                    f"has {classes} classes; labels must be class indices below {classes}")
                n_labels += labels.shape[0]
                for key, out in (("fp32", fp32[0]), ("quant", q[0])):
                    correct[key] += int(np.sum(np.argmax(out, axis=-1) == labels))
    if label_note:
        notes.append(label_note)
        n_labels = 0
    if checked < feeds.n_samples:
        notes.append(f"runtime fidelity and the per-tensor table use the first {checked} of {feeds.n_samples} "
                     "eval samples; accuracy and output SQNR use all of them")
    fid = {}
    for mode in MODES:
        f = fidelity_of(fidelity[mode])
        fid[mode] = f.to_dict()
        if not f.ok:
            fid[mode]["likely_cause"] = likely_cause(m.model_q, mode)

    per_layer = {}
    if sensitivity:
        subset = feeds.head(SENSITIVITY_SAMPLES)
        per_layer = op_alone(m.reference, [n for n in m.points.nodes if n.weight], subset, progress)
    tensors = _tensor_table(m, variants, accumulated, local)
    ran = runtime_ops(m.model_q)
    slow = fast_path_note(ran)
    if slow:
        notes.append(slow)
    if any(t["exported_as"] != "QDQ" for t in tensors.values()):
        notes.append('"pattern" and "codes+decode": formats without native Q/DQ in ONNX are written as an exact '
                     "fake-quant pattern of standard ops, so every runtime computes the simulated numerics (in float, "
                     "with no integer speed-up)")
    if {"LSTM", "GRU", "RNN"} & set(m.points.float_ops):
        notes.append("recurrent ops (LSTM/GRU/RNN) stay in float; the Gemm/MatMul around them are quantized")
    fp32_sess = fp32_sess or ort_session(m.float_model, "ort_default", what="the float model")
    lat_fp32 = _latency_ms(fp32_sess, feeds.first(), times["fp32"])
    lat_q = _latency_ms(sessions["ort_default"], feeds.first(), times["quant"])
    acc = {k: (v / n_labels if n_labels else None) for k, v in correct.items()}
    first = quant[names[0]]
    return QuantReport(
        model=m.float_model.graph.name or "model",
        weights=config.weights.name, acts=config.acts.name, granularity=config.granularity.describe(),
        calib_method=config.calib_method.describe(), n_calib=calib.n_samples, n_eval=feeds.n_samples,
        accuracy_fp32=acc["fp32"], accuracy_quant=acc["quant"],
        accuracy_drop_pp=None if acc["fp32"] is None else 100.0 * (acc["fp32"] - acc["quant"]),
        sqnr_db=first.sqnr_db, agreement=first.agreement if first.agreement is not None else 1.0,
        max_abs_error=first.max_abs,
        outputs={n: {"sqnr_db": c.sqnr_db, "agreement": c.agreement, "max_abs_error": c.max_abs}
                 for n, c in quant.items() if c.signal or c.noise},
        reference_sqnr_db=ref_vs_fp32.sqnr_db,
        fidelity=fid, fidelity_ok=all(f["ok"] for f in fid.values()),
        per_layer=per_layer, blame=_blame(tensors), tensors=tensors,
        formats={name: t["format"] for name, t in tensors.items()},
        exported_as={name: t["exported_as"] for name, t in tensors.items()},
        float_ops=written_float_ops(m.model_q, m.points), fallbacks=list(fallbacks),
        size_bytes_fp32=m.float_model.ByteSize(), size_bytes_quant=m.model_q.ByteSize(),
        latency_ms_fp32=lat_fp32, latency_ms_quant=lat_q, runtime_ops=ran,
        config=config.to_dict(),
        mixed_precision=None if mixed is None else mixed.to_dict(),
        cost=_digital_cost(m.model_q, notes),
        notes=notes, timing=timing,
    )


def _accumulate(acc: list[float], reference: np.ndarray, approx: np.ndarray) -> None:
    ref = np.asarray(reference, dtype=np.float64)
    finite = np.isfinite(ref)
    if not finite.all():  # -inf from Log(0) and the like: compare where the float value is finite
        ref, approx = ref[finite], np.asarray(approx)[finite]
    err = ref - approx
    acc[0] += float(np.sum(ref * ref))
    acc[1] += float(np.sum(err * err))


def _tensor_table(m: MeasureInputs, variants, accumulated, local) -> dict[str, dict]:
    """Return tensor -> format, how it is exported, its SQNR vs FP32 in the quantized model and the local SQNR
    (the noise its own quantizer injects, relative to its input)."""
    node_of = {}
    for n in m.points.nodes:
        for t in [*n.acts, n.weight, n.bias]:
            if t:
                node_of.setdefault(t, n.name)
    chosen = _chosen_entries(m.select, variants)
    table = {}
    for e in m.plan:
        if e.role != "activation" and e.tensor not in chosen:
            continue  # mixed precision moved this tensor to float
        e = chosen.get(e.tensor, e)
        row = e.describe()
        row["node"] = node_of.get(e.tensor, "")
        if e.role == "activation":
            row["sqnr_db"] = ratio_db(*accumulated[e.tensor])
            row["local_sqnr_db"] = ratio_db(*local[e.tensor])
            row["exported_as"] = "QDQ" if native_activation(e.fmt) else "pattern"
        else:
            w = m.weights[e.tensor]
            row["sqnr_db"] = row["local_sqnr_db"] = sqnr_db(w, e.apply(w))
            row["exported_as"] = "QDQ" if weight_is_native(e) else "codes+decode"
            row["stored_bytes"] = m.stored.get(e.tensor, 0)
        table[e.tensor] = row
    return table


def _chosen_entries(select: dict[str, int], variants) -> dict[str, TensorQuant]:
    """Return weight/bias tensor -> the entry the reference selects (mixed precision may pick another rung)."""
    out = {}
    for node, rung in select.items():
        if rung:
            out.update(variants[node].entries[rung - 1])
    return out


def _blame(tensors: dict[str, dict], top: int = 5) -> list[dict]:
    """Return the tensors whose own quantizer injects the most noise (lowest local SQNR), worst first."""
    rows = [(t["local_sqnr_db"], name, t) for name, t in tensors.items() if t["role"] != "bias"]
    rows.sort(key=lambda r: (r[0], r[1]))
    return [{"tensor": name, "node": t.get("node", ""), "role": t["role"], "format": t["format"],
             "local_sqnr_db": s} for s, name, t in rows[:top]]


def _timed(sess, names, feed, times: list[float]) -> list[np.ndarray]:
    """Run one feed and record its wall time (the eval runs double as the latency measurement)."""
    t = time.perf_counter()
    out = sess.run(names, feed)
    times.append(time.perf_counter() - t)
    return out


def _latency_ms(sess, feed, times: list[float]) -> float:
    """Return the median latency (ms) of the eval runs after the first (warm-up); with fewer than five, time extra
    runs of the first feed until there are five."""
    times = list(times[1:])  # with outputs reused from calibration there are none: time runs of the first feed
    while len(times) < MIN_LATENCY_RUNS:
        t = time.perf_counter()
        sess.run(None, dict(feed))
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


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


__all__ = ["MeasureInputs", "ModeFidelity", "measure"]
