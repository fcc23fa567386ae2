"""Quantize with no calibration data, or with activations left in float: dynamic int8 or weight-only.

`edgeq quantize model.onnx --fmt int8` (no `--calib`) goes dynamic (`ptq/dynamic.py`): int8 weights, activations
quantized at run time. Formats no runtime quantizes dynamically (FP8, int4, ...) and `--acts float` go weight-only
(`ptq/weight_only.py`): weights stored quantized, activations in float. The report measures the result the same
way as a calibrated run (FP32 vs ORT, the three-way fidelity check, size, latency) and says what calibration data
would gain.
"""

from __future__ import annotations

import time

import numpy as np

from ..data import batch_size_for, batches, load_data, random_data
from ..graph.load import external_base, load_model
from ..graph.points import find_points
from ..graph.prepare import prepare
from ..graph.save import tensor_bytes
from ..formats import IntFormat
from ..metrics import sqnr_db, top1_accuracy, top1_agreement
from .config import QuantConfig
from .dynamic import WRITTEN_SUFFIXES, dynamic_nodes, export_dynamic, reference_inputs, weight_rows
from .measure import written_float_ops
from .staged import StagedSimulator, run_all
from .report import QuantReport
from .runtime import check_fidelity, latency_ms, likely_cause, run_batched, runtime_ops, session

RANDOM_EVAL_SAMPLES = 16
MEASURE_LIMIT = 2**31  # bytes of weights above which the report does not load the FP32 model a second time


def uses_dynamic(config: QuantConfig) -> bool:
    """Return True when a run without calibration data goes dynamic: 8-bit integer weights and activations."""
    w, a = config.weights, config.acts
    return (not config.weight_only and isinstance(w, IntFormat) and w.signed and w.bits == 8
            and isinstance(a, IntFormat) and a.bits == 8)


def quantize_data_free(model_or_path, config: QuantConfig, *, calib=None, eval=None, t_start: float):
    """Return the QuantResult of dynamic int8 (8-bit formats, no data) or weight-only quantization, measured.

    Weight-only reads weights one at a time from external data; a model over MEASURE_LIMIT bytes is not loaded
    again for the report's FP32 comparison (that would hold the weights twice): the report says so.
    """
    from .pipeline import QuantResult, quantize

    notes: list[str] = []
    if uses_dynamic(config):
        float_model, _ = prepare(load_model(model_or_path))
        model_q, entries, stored = export_dynamic(float_model, config)
        nodes = dynamic_nodes(float_model, config)
        points, how, acts = [qn.acts[0] for qn in nodes], "dynamic", "uint8 (dynamic, per tensor at run time)"
        n_conv = sum(n.op_type in ("Conv", "ConvTranspose") for n in float_model.graph.node)
        notes.append(f"no calibration data: dynamic int8 as onnxruntime's quantize_dynamic writes it; {len(nodes)} "
                     "MatMul/Gemm get int8 weights per output channel and quantize their input at run time "
                     "(DynamicQuantizeLinear -> MatMulInteger, fused to DynamicQuantizeMatMul)"
                     + (f"; {n_conv} Conv stay in float: onnxruntime has no fast dynamic Conv on CPU (ConvInteger "
                        "took 22.4 ms vs 0.54 ms FP32 on the digits CNN); pass --calib for static int8 Conv"
                        if n_conv else ""))
    else:
        model_q, entries, stored, how, float_model = _weight_only(model_or_path, config, calib, notes)
        points, nodes, acts = [], [], "float"
        if float_model is None:
            return QuantResult(model_q, {e.tensor: e for e in entries},
                               _unmeasured_report(model_q, config, entries, stored, how, notes, t_start))
    t_exported = time.perf_counter()
    if eval is not None:
        data, labels = load_data(eval, float_model, "eval")
    else:
        data, labels = random_data(float_model, RANDOM_EVAL_SAMPLES, np.random.default_rng(config.seed)), None
        notes.append(f"no --eval data: SQNR, agreement and fidelity are measured on {RANDOM_EVAL_SAMPLES} random "
                     "normal inputs and say little about real inputs; pass --eval DATA to measure them, and to see "
                     "what calibration data would gain")
    batch = batch_size_for(float_model)
    if how != "dynamic":
        entries = [e for e in entries if e.tensor in {t.name for t in float_model.graph.initializer}]
    sim = StagedSimulator(float_model, points, [e.tensor for e in entries])
    if how == "dynamic":
        transforms, fq = reference_inputs(entries, nodes, sim.params)
    else:
        transforms, fq = {}, {e.tensor: e.apply(sim.params[e.tensor].astype(np.float32)) for e in entries}
    reference = run_all(sim, data, batch, transforms, fq)
    fp32_sess = session(float_model)
    fp32 = run_batched(fp32_sess, data, batch)
    fidelity, outputs = check_fidelity(model_q, reference, data, batch)
    quant = outputs["ort_default"]
    fid = {m: {**f.to_dict(), **({} if f.ok else {"likely_cause": likely_cause(model_q, m)})}
           for m, f in fidelity.items()}
    feed = next(batches(data, min(batch, 64)))
    lat_fp32, lat_q = latency_ms(fp32_sess, feed), latency_ms(session(model_q), feed)
    ran = runtime_ops(model_q)
    if how == "dynamic" and eval is not None:
        notes.append(_calibration_gain(float_model, config, data, sqnr_db(fp32, quant), quantize))
    # no fast_path_note here: float Conv (dynamic) and float activations (weight-only) are by design, said above
    tensors = weight_rows(entries, sim.params, fq, stored, how)
    acc = (lambda out: top1_accuracy(out, labels)) if labels is not None else (lambda out: None)  # noqa: E731
    report = QuantReport(
        model=float_model.graph.name or "model", weights=config.weights.name, acts=acts,
        granularity=config.granularity.describe(), calib_method="none", n_calib=0, n_eval=int(fp32.shape[0]),
        accuracy_fp32=acc(fp32), accuracy_quant=acc(quant),
        accuracy_drop_pp=None if labels is None else 100.0 * (acc(fp32) - acc(quant)),
        sqnr_db=sqnr_db(fp32, quant), agreement=top1_agreement(fp32, quant),
        max_abs_error=float(np.max(np.abs(fp32 - quant))), fidelity=fid,
        fidelity_ok=all(f.ok for f in fidelity.values()), per_layer={}, tensors=tensors,
        formats={k: t["format"] for k, t in tensors.items()}, exported_as={k: t["exported_as"] for k, t in tensors.items()},
        float_ops=written_float_ops(model_q, _Points(model_q)), size_bytes_fp32=float_model.ByteSize(),
        size_bytes_quant=model_q.ByteSize(), latency_ms_fp32=lat_fp32, latency_ms_quant=lat_q, runtime_ops=ran,
        config=config.to_dict(), notes=notes,
        timing={"export_s": t_exported - t_start, "total_s": time.perf_counter() - t_start},
    )
    return QuantResult(model_q, {e.tensor: e for e in entries}, report)


class _Points:
    """The nodes edgeq wrote for quantized ops, shaped like QuantPoints for `written_float_ops`."""

    def __init__(self, model_q):
        self.nodes = [n for n in model_q.graph.node if n.name.endswith(WRITTEN_SUFFIXES)]


def _weight_only(model_or_path, config: QuantConfig, calib, notes: list[str]):
    """Return (model_q, entries, stored, how, float model for measuring or None when too big) for weight-only."""
    from .weight_only import activation_h_diag, export_weight_only

    model = load_model(model_or_path, external_data=False)
    base = external_base(model_or_path)
    size = tensor_bytes(model)
    float_model = load_model(model_or_path) if size <= MEASURE_LIMIT else None
    h_diags = None
    if calib is not None:
        source = float_model if float_model is not None else model
        data, _ = load_data(calib, source, "calibration")
        names = sorted({qn.acts[0] for qn in find_points(model, config.exclude).nodes
                        if qn.op_type in ("MatMul", "Gemm") and qn.weight and len(qn.acts) == 1})
        h_diags = activation_h_diag(source, base, names, data, batch_size_for(source)) if names else None
    model_q, entries, stored, hows = export_weight_only(model, config, base, h_diags)
    method = "activation-weighted clip search on the calibration data" if h_diags else "round to nearest"
    how = " + ".join(sorted(set(hows.values()))) or "none"
    notes.append(f"weight-only: {len(entries)} weights stored as {config.weights.name} ({how}, {method}); "
                 "activations stay in float" + ("" if config.weight_only else
                 f" (no runtime quantizes {config.acts.name} activations without calibration data; pass --calib "
                 "for a static model)"))
    if float_model is None:
        notes.append(f"the model holds {size / 2**30:.1f} GiB of weights: the report skips the FP32-vs-quantized "
                     "run (it would load the weights a second time)")
    return model_q, entries, stored, hows, float_model


def _unmeasured_report(model_q, config, entries, stored, how, notes, t_start) -> QuantReport:
    """Return the report of a weight-only run too big to compare against FP32 in onnxruntime here."""
    tensors = {e.tensor: {**e.describe(), "node": "", "sqnr_db": None, "stored_bytes": stored[e.tensor],
                          "exported_as": how[e.tensor]} for e in entries}
    nan = float("nan")
    return QuantReport(
        model=model_q.graph.name or "model", weights=config.weights.name, acts="float",
        granularity=config.granularity.describe(), calib_method="none", n_calib=0, n_eval=0,
        accuracy_fp32=None, accuracy_quant=None, accuracy_drop_pp=None,
        sqnr_db=nan, agreement=nan, max_abs_error=nan, fidelity={}, fidelity_ok=True, per_layer={},
        tensors=tensors, formats={k: t["format"] for k, t in tensors.items()},
        exported_as={k: t["exported_as"] for k, t in tensors.items()}, float_ops={}, size_bytes_fp32=0,
        size_bytes_quant=sum(stored.values()), latency_ms_fp32=nan, latency_ms_quant=nan,
        config=config.to_dict(), notes=notes, timing={"total_s": time.perf_counter() - t_start},
    )


def _calibration_gain(float_model, config, data, sqnr_dynamic: float, quantize) -> str:
    """Return a note comparing the dynamic model with a static one calibrated on the eval samples."""
    static = quantize(float_model, config, calib=data, eval=data, progress=False).report
    return (f"what calibration data would gain (static int8 calibrated on these {len(next(iter(data.values())))} "
            f"eval samples): output SQNR {static.sqnr_db:.1f} dB vs {sqnr_dynamic:.1f} dB dynamic, and every "
            "quantized op as a fused integer kernel with no run-time range search (latencies: "
            "benchmarks/bench_deploy.py); pass --calib DATA to get it")


__all__ = ["quantize_data_free", "uses_dynamic"]
