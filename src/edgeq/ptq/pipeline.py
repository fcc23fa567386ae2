"""`quantize(model_or_path, config, ...) -> QuantResult`: the PTQ pipeline behind `edgeq quantize` (a conductor).

load + check -> preparation passes -> dtypes the run resolves -> find quantizable ops (the rest stays float, with a
reason) -> streaming calibration (one session, one feed at a time) -> per-tensor plan -> one switchable reference
graph -> (mixed precision) -> QDQ / fake-quant export -> measure feed by feed -> report.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from ..errors import CheckFailed, ConfigError, InternalError, UserError
from ..feeds import FeedSet, ImagePreprocess, open_feeds, random_feeds
from ..graph.load import load_model
from ..graph.plan import TensorQuant
from ..graph.points import QuantPoints, find_points, stem_nodes
from ..graph.prepare import prepare
from ..graph.qdq import export_quantized
from ..graph.save import save_model
from ..graph.types import resolve_types
from ..io import atomic_write_text
from ..metrics import sqnr_db
from .calibration import calibrate
from .config import QuantConfig, as_config
from .measure import MeasureInputs, measure
from .mixed import choose_overrides
from .planner import FLOAT, activation_entry, build_plan, exclusive_inputs, ladder, node_entries
from .reference import NodeVariants, ObservedModel, ReferenceModel
from .sensitivity import amplifying_ops
from .report import QuantReport
from .targets import apply_fixed_activations, output_points_help, target_notes
from ..graph.placement import add_join_points, add_output_points
from ..graph.target_checks import check_target

RANDOM_CALIB_SAMPLES = 64
FEED_BATCH = 32  # samples per run when the data has a sample axis: activations of one feed bound the memory


@dataclass
class QuantResult:
    """The quantized model, its per-tensor plan and the report.

    Attributes:
        model: the quantized onnx.ModelProto (passes onnx.checker, runs in onnxruntime).
        tensors: tensor name -> TensorQuant (format, scale, axis, zero point, role).
        report: QuantReport; `report.to_dict()` is JSON-ready.
    """

    model: onnx.ModelProto
    tensors: dict[str, TensorQuant]
    report: QuantReport

    def save(self, path: str | os.PathLike, report_path: str | os.PathLike | None = None) -> None:
        """Write the model (PATH.data beside it when over 2 GB) and optionally the JSON report, atomically."""
        save_model(self.model, path)
        if report_path is not None:
            atomic_write_text(report_path, self.report.to_json())


def quantize(
    model_or_path,
    config: QuantConfig | str | Mapping = "int8",
    *,
    calib=None,
    eval=None,
    calib_random: bool = False,
    image: ImagePreprocess | None = None,
    sensitivity: bool = False,
    strict: bool = False,
    progress: bool = True,
    **options,
) -> QuantResult:
    """Return the post-training-quantized model, its per-tensor plan and the measured report.

    Args:
        model_or_path: an onnx.ModelProto or a path to an .onnx file (never modified).
        config: a QuantConfig; or a preset/format name ("int8" = int8 weights + uint8 activations, "int4" = W4A8,
            "fp8_e4m3", "fp8_e5m2", "fp8_e3m4", "fp8_e2m5", "fp6_e3m2", "fp4", "mxfp4", ...), optionally refined by
            `options` (the keyword arguments of `QuantConfig.from_options`: weights, acts, granularity,
            calib_method, exclude, overrides, seed, max_drop, min_sqnr, kernel_safe_int8, target); or a dict
            (`QuantConfig.from_dict`, e.g. from a gate or sweep file).
        calib: calibration data (`edgeq.feeds.open_feeds`): .npz / dict of arrays with a sample axis, a folder of
            per-run .npz feeds, an .npy, a folder of images, "file.py:function", or a CalibrationDataReader. None
            (and not `calib_random`): dynamic int8 for 8-bit integer formats, weight-only otherwise
            (`ptq/datafree.py`).
        eval: evaluation data like `calib`, optionally with "labels"; defaults to the calibration data.
        calib_random: allow calibrating on random normal data when `calib` is None (warns).
        image: how a folder of images becomes the model input (size, layout, mean/std, BGR).
        sensitivity: also measure each op alone (output SQNR with only that op quantized) on a subset.
        strict: raise (UserError) instead of leaving an op in float that edgeq cannot quantize.
        progress: show progress bars.
    """
    t_start = time.perf_counter()
    if options:
        if not isinstance(config, str):
            raise ConfigError("keyword options refine a preset name; put them in the QuantConfig or dict instead")
        config = QuantConfig.from_options(config, **options)
    config = as_config(config)
    if config.weight_only or (calib is None and not calib_random):
        from .datafree import quantize_data_free  # dynamic int8 or weight-only: no calibration pass

        return quantize_data_free(model_or_path, config, calib=calib, eval=eval, t_start=t_start)
    float_model, _ = prepare(load_model(model_or_path))
    notes: list[str] = []
    calib_feeds = _calibration_feeds(calib, calib_random, float_model, config, notes, image)
    eval_feeds = (open_feeds(eval, float_model, "eval", batch=FEED_BATCH, image=image) if eval is not None
                  else calib_feeds)
    if config.max_drop is not None and not eval_feeds.has_labels:
        raise UserError("--max-drop needs labels: pass --eval data with a 'labels' array (or use --min-sqnr)")
    float_model = resolve_types(float_model, calib_feeds.first())
    points = find_points(float_model, config.exclude)
    if output_points_help(config):
        add_output_points(float_model, points)  # graph/placement.py: lets ORT fuse Conv before HardSwish/SiLU
        add_join_points(float_model, points)
    _check_names(float_model, points, config)
    fallbacks = list(points.fallbacks)
    if strict and fallbacks:
        raise UserError(f"--strict: {len(fallbacks)} op(s) would stay in float: {'; '.join(fallbacks[:3])}")
    if not points.nodes:
        nested = _ops_in_subgraphs(float_model)
        where = (f"; its compute ops are inside control flow ({nested}), which edgeq does not quantize yet: "
                 "export the model with the branch taken inlined" if nested else "")
        raise UserError("the model has no Conv, ConvTranspose, Gemm or MatMul with float inputs to quantize at its "
                        "top level" + (f" ({'; '.join(fallbacks[:3])})" if fallbacks else "") + where)
    observed = ObservedModel(float_model, points.activations)
    calib_feeds, eval_feeds = _fit_batches(observed, calib_feeds, eval_feeds, notes)
    ranges, fp32_outputs = calibrate(observed, calib_feeds, points, config, progress,
                                     keep_outputs=eval_feeds is calib_feeds)
    _check_ranges(ranges)
    t_calibrated = time.perf_counter()

    weights = {t.name: onnx.numpy_helper.to_array(t).astype(np.float32) for t in float_model.graph.initializer
               if t.name in {x for n in points.nodes for x in (n.weight, n.bias) if x}}
    acts = apply_fixed_activations([activation_entry(t, lo, hi, config.acts) for t, (lo, hi) in ranges.items()],
                                   float_model, config.target)
    want_mixed = config.max_drop is not None or config.min_sqnr is not None
    variants = _variants(points, weights, acts, config, full_ladder=want_mixed)
    reference = ReferenceModel(float_model, acts, variants, capture=True)
    kept = _amplifier_guard(reference, points, float_model, calib_feeds, weights, config, notes)
    select = {v.node: (0 if v.node in kept else 1) for v in variants}
    float_nodes = set(kept) | {n for n, f in config.overrides.items() if f == FLOAT}
    mixed = None
    if want_mixed:
        mixed, select, float_nodes = choose_overrides(reference, points, config, eval_feeds, progress, select,
                                                      float_nodes)
    if mixed is not None and not mixed.met:
        raise CheckFailed(f"mixed precision target not met ({mixed.target}): {mixed.reason} (reached "
                          + ", ".join(f"{k} {v:.2f}" for k, v in mixed.achieved.items())
                          + "); nothing written: lower the target")
    overrides = {**config.overrides, **(mixed.overrides if mixed else {}), **{n: FLOAT for n in float_nodes}}
    float_inputs = exclusive_inputs(points, float_nodes)
    gates = {t: t not in float_inputs for t in reference.activations}
    plan = apply_fixed_activations(build_plan(points, ranges, weights, config, overrides, float_inputs), float_model,
                                   config.target)
    model_q, stored = _export(float_model, plan)
    target_check = check_target(model_q, config.target)
    notes.extend(target_notes(config))
    t_exported = time.perf_counter()

    inputs = MeasureInputs(float_model, model_q, observed, reference, gates, select, plan, points, weights, stored,
                           fp32_outputs)
    del observed, reference  # measure drops its analysis graphs once its three-way check is done
    report = measure(
        inputs, config=config, feeds=eval_feeds, mixed=mixed, notes=notes, fallbacks=fallbacks, calib=calib_feeds,
        timing={"calibrate_s": t_calibrated - t_start, "export_s": t_exported - t_calibrated},
        sensitivity=sensitivity, progress=progress,
    )
    report.target_check = target_check.to_dict()
    report.timing["total_s"] = time.perf_counter() - t_start
    return QuantResult(model_q, {e.tensor: e for e in plan}, report)


AMPLIFY_MIN_GAIN_DB = 10.0  # an op whose op-alone output SQNR is this far below its own quantizers' stays float
PLACEMENT_OP = "Output"  # graph.placement's points on compute-op outputs (for fused integer kernels only)
PLACEMENT_MIN_GAIN_DB = 3.0
AMPLIFY_SAMPLES = 2  # the amplification a stem causes is systematic: two feeds show it
AMPLIFY_BUDGET_S = 3.0  # beyond the model's stems, check every op (one feed) when that fits in about this time


def _amplifier_guard(reference: ReferenceModel, points: QuantPoints, model: onnx.ModelProto, feeds: FeedSet,
                     weights, config: QuantConfig, notes: list[str]) -> dict[str, dict]:
    """Return the ops kept in float because they amplify their own quantization noise (config.amplifier_guard).

    The stems (first layers) are always checked; every other op too when the model is small enough that one run
    per op fits the time budget (a mel filterbank MatMul before a Log amplifies the noise of small bins).
    """
    if not config.amplifier_guard:
        return {}
    subset = list(feeds.head(AMPLIFY_SAMPLES))
    candidates = [n for n in stem_nodes(model, points) if n.name in reference.variants]
    fp32, times = [], []
    for feed in subset:  # all gates off: the float model, timed (the fastest run: the first one warms up)
        start = time.perf_counter()
        fp32.append(reference.run(feed)[0][0])
        times.append(time.perf_counter() - start)
    per_run = min(times) if times else 0.0
    others = [n for n in points.nodes if n not in candidates and (n.acts or n.name in reference.variants)]
    if per_run * len(others) > AMPLIFY_BUDGET_S:
        others = []  # too slow to check them all: only the stems
    if not candidates and not others:
        return {}
    weight_sqnr = {}
    for n in candidates + others:
        if n.name not in reference.variants:
            continue  # a join or placement point: its inputs' quantizers are all it has
        entry = reference.variants[n.name].entries[0][n.weight]
        weight_sqnr[n.name] = sqnr_db(weights[n.weight], entry.apply(weights[n.weight]))
    kept = amplifying_ops(reference, candidates, subset, fp32, weight_sqnr, AMPLIFY_MIN_GAIN_DB)
    # the other ops on one feed: what they amplify shows on any input. A placement point (a Q/DQ on an output that
    # only lets onnxruntime fuse an integer kernel) buys speed, not correctness, so it must cost almost nothing
    speed_only = [n for n in others if n.op_type == PLACEMENT_OP]
    others = [n for n in others if n.op_type != PLACEMENT_OP]
    kept.update(amplifying_ops(reference, others, subset[:1], fp32[:1], weight_sqnr, AMPLIFY_MIN_GAIN_DB))
    kept.update(amplifying_ops(reference, speed_only, subset[:1], fp32[:1], weight_sqnr, PLACEMENT_MIN_GAIN_DB))
    for node, k in kept.items():
        notes.append(f"kept {node} in float (amplifier guard): quantizing it alone costs the output "
                     f"{k['op_alone_db']:.1f} dB SQNR while its own quantizers inject {k['local_db']:.1f} dB, so the "
                     "graph amplifies their noise (an input with a large offset, a Log downstream); "
                     "--no-guard quantizes it anyway")
    return kept


ACTIVATION_BUDGET_BYTES = 128 << 20  # one run's observed activations: what bounds memory, not the sample count


def _fit_batches(observed: ObservedModel, calib: FeedSet, eval_feeds: FeedSet, notes: list[str]):
    """Return the feeds re-cut so one run's observed activations fit ACTIVATION_BUDGET_BYTES (measured on one
    sample); data without a resizable sample axis is fed as stored."""
    if calib.batch is None and eval_feeds.batch is None:
        return calib, eval_feeds
    one = {k: v[:1] for k, v in calib.first().items()} if calib.batch else None
    if one is None:
        return calib, eval_feeds
    outputs, values = observed.run(one)
    per_sample = sum(np.asarray(v).nbytes for v in values.values()) + sum(o.nbytes for o in outputs)
    batch = int(max(1, min(FEED_BATCH, ACTIVATION_BUDGET_BYTES // max(per_sample, 1))))
    if batch < FEED_BATCH:
        notes.append(f"runs of {batch} samples: one sample's activations take {per_sample / 2**20:.0f} MiB")
    same = eval_feeds is calib
    calib = calib.with_batch(batch)
    return calib, (calib if same else eval_feeds.with_batch(batch))


def _variants(points: QuantPoints, weights, acts: list[TensorQuant], config: QuantConfig,
              full_ladder: bool) -> list[NodeVariants]:
    """Return each weighted node's precision ladder for the reference graph (just the planned rung unless mixed)."""
    act_of = {e.tensor: e for e in acts}
    out = []
    for node in points.nodes:
        if not node.weight or config.overrides.get(node.name) == FLOAT:
            continue
        rungs = ladder(node, config) if full_ladder else ladder(node, config)[:1]
        act = act_of.get(node.acts[0]) if node.acts else None
        entries = tuple(node_entries(node, weights, act, fmt, config) for fmt in rungs)
        out.append(NodeVariants(node.name, tuple(t for t in (node.weight, node.bias) if t), tuple(rungs), entries))
    return out


def _ops_in_subgraphs(model: onnx.ModelProto) -> str:
    """Return e.g. "If x1 holding Conv x36" when compute ops sit only inside If/Loop/Scan bodies, else ""."""
    holders: dict[str, int] = {}
    inner: dict[str, int] = {}

    def walk(graph, top):
        for node in graph.node:
            bodies = [g for a in node.attribute for g in ([a.g] if a.HasField("g") else []) + list(a.graphs)]
            if top and bodies:
                holders[node.op_type] = holders.get(node.op_type, 0) + 1
            for g in bodies:
                for n in g.node:
                    if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
                        inner[n.op_type] = inner.get(n.op_type, 0) + 1
                walk(g, False)

    walk(model.graph, True)
    if not inner:
        return ""
    fmt = lambda d: ", ".join(f"{k} x{v}" for k, v in sorted(d.items()))  # noqa: E731
    return f"{fmt(holders)} holding {fmt(inner)}"


def _export(float_model: onnx.ModelProto, plan: list[TensorQuant]) -> tuple[onnx.ModelProto, dict[str, int]]:
    model_q, stored = export_quantized(float_model, plan)
    del model_q.graph.value_info[:]  # Q/DQ renamed tensors: a stale inferred shape would only mislead a runtime
    try:
        onnx.checker.check_model(model_q)
    except onnx.checker.ValidationError as err:
        raise InternalError("graph.qdq.export_quantized", f"the written graph fails onnx.checker: "
                            f"{str(err).strip().splitlines()[0][:300]}") from None
    return model_q, stored


def _calibration_feeds(calib, calib_random: bool, model, config: QuantConfig, notes: list[str],
                       image: ImagePreprocess | None) -> FeedSet:
    if calib is not None:
        return open_feeds(calib, model, "calibration", batch=FEED_BATCH, image=image)
    msg = f"calibrating on {RANDOM_CALIB_SAMPLES} random normal samples: ranges will not match real data"
    warnings.warn(msg, stacklevel=3)
    notes.append(msg)
    return random_feeds(model, RANDOM_CALIB_SAMPLES, config.seed, FEED_BATCH)


def _check_ranges(ranges) -> None:
    """Refuse ranges no format can hold (calibration data with absurd values)."""
    for tensor, (lo, hi) in ranges.items():
        if not (np.isfinite(lo) and np.isfinite(hi)) or max(abs(lo), abs(hi)) > 1e30:
            raise UserError(f"activation {tensor!r} spans [{lo:.3g}, {hi:.3g}] on the calibration data; no scale "
                            "can hold it: check the calibration data for extreme values")


def _check_names(model: onnx.ModelProto, points: QuantPoints, config: QuantConfig) -> None:
    names = {n.name for n in model.graph.node}
    op_types = {n.op_type for n in model.graph.node}
    unknown = [e for e in config.exclude if e not in names and e not in op_types]
    if unknown:
        raise UserError(f"--exclude {unknown[0]!r} is neither a node name nor an op type in the model")
    quantizable = {n.name for n in points.nodes if n.weight}
    bad = [k for k in config.overrides if k not in quantizable]
    if bad:
        raise UserError(f"override for {bad[0]!r}: not a quantized node with weights (have {sorted(quantizable)[:8]})")


__all__ = ["QuantResult", "quantize"]
