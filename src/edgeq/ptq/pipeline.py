"""`quantize(model_or_path, fmt, ...) -> QuantResult`: the PTQ pipeline behind `edgeq quantize`.

load + check -> cleanups, BatchNorm folding -> find quantizable ops -> streaming calibration in edgeq's reference
simulation -> per-tensor plan -> (mixed precision) -> export QDQ / fake-quant graph -> evaluate FP32, reference,
ORT_DISABLE_ALL and ORT default -> report.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from .calibration import calibrate
from .config import QuantConfig
from ..data import batch_size_for, load_data, random_data
from ..errors import UserError
from .measure import measure
from ..graph.load import load_model
from ..graph.plan import TensorQuant
from ..graph.points import QuantPoints, find_points
from ..graph.prepare import prepare
from ..graph.qdq import export_quantized
from ..io import atomic_write_bytes, atomic_write_text
from .mixed import choose_overrides
from .planner import activation_entry, bias_entry, weight_entry, weight_format
from .report import QuantReport
from .reference import StagedSimulator

RANDOM_CALIB_SAMPLES = 64


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
        """Write the model (and optionally the JSON report) atomically: a temp file in the same folder, renamed."""
        atomic_write_bytes(path, self.model.SerializeToString())
        if report_path is not None:
            atomic_write_text(report_path, self.report.to_json())


def quantize(
    model_or_path,
    fmt: str = "int8",
    *,
    weights: str | None = None,
    acts: str | None = None,
    granularity: str = "channel",
    calib=None,
    calib_random: bool = False,
    eval=None,
    calib_method: str = "minmax",
    exclude=(),
    overrides: Mapping[str, str] | None = None,
    seed: int = 0,
    max_drop: float | None = None,
    min_sqnr: float | None = None,
    progress: bool = True,
    kernel_safe: bool = True,
) -> QuantResult:
    """Return the post-training-quantized model, its per-tensor plan and the measured report.

    Args:
        model_or_path: an onnx.ModelProto or a path to an .onnx file (never modified).
        fmt: preset or format: "int8" (int8 weights, uint8 activations), "int4" (W4A8), "fp8"/"fp8_e4m3",
            "fp8_e5m2", "fp8_e3m4", "fp8_e2m5", "fp6_e3m2", "fp4", "mxfp4" (MX weights, fp8 activations), ...
        weights, acts: explicit weight / activation formats (mixed W/A, e.g. weights="int4", acts="uint8").
        granularity: weight scales: "tensor", "channel" or "block:N".
        calib: calibration data: .npz path, folder of .npy, or dict input name -> array [N, ...].
        calib_random: allow calibrating on random normal data when `calib` is None (warns).
        eval: evaluation data like `calib`, optionally with "labels"; defaults to the calibration data.
        calib_method: "minmax", "percentile:99.99", "mse" or "entropy".
        exclude: node names or op types to keep in float.
        overrides: node name -> weight format, per-layer precision.
        seed: seeds random calibration data; the output is byte-identical for the same inputs and seed.
        max_drop, min_sqnr: mixed precision targets (accuracy drop in pp, logit SQNR in dB).
        progress: show progress bars.
        kernel_safe: with 8-bit integer weights and activations keep weights in [-64, 63], so x86 u8s8 kernels
            without VNNI (saturating 16-bit pair sums) compute exactly what the report says.
    """
    t_start = time.perf_counter()
    config = QuantConfig.from_options(
        fmt, weights=weights, acts=acts, granularity=granularity, calib_method=calib_method, exclude=exclude,
        overrides=overrides, seed=seed, max_drop=max_drop, min_sqnr=min_sqnr, kernel_safe_int8=kernel_safe,
    )
    model = load_model(model_or_path)
    float_model, _ = prepare(model)
    notes: list[str] = []
    calib_data = _calibration_data(calib, calib_random, float_model, config, notes)
    eval_data, labels = load_data(eval, float_model, "eval") if eval is not None else (calib_data, None)
    if config.max_drop is not None and labels is None:
        raise UserError("--max-drop needs labels: pass --eval data with a 'labels' array (or use --min-sqnr)")
    points = find_points(float_model, config.exclude)
    _check_names(float_model, points, config)
    if not points.nodes:
        raise UserError("the model has no Conv, ConvTranspose, Gemm or MatMul with float inputs to quantize")
    batch = batch_size_for(float_model)
    params = [n.weight for n in points.nodes if n.weight] + [n.bias for n in points.nodes if n.bias]
    sim = StagedSimulator(float_model, points.activations, params)
    ranges = calibrate(sim, calib_data, batch, points, config, progress)
    t_calibrated = time.perf_counter()

    weights_f = {name: sim.params[name].astype(np.float32) for name in params}
    plan_for = lambda ov: _build_plan(points, ranges, weights_f, config, ov)  # noqa: E731
    mixed = None
    if config.max_drop is not None or config.min_sqnr is not None:
        mixed = choose_overrides(sim, points, plan_for, config, eval_data, labels, batch, progress)
        plan = plan_for({**config.overrides, **mixed.overrides})
    else:
        plan = plan_for(dict(config.overrides))
    model_q, stored = export_quantized(float_model, plan)
    _strip_value_info(model_q)
    onnx.checker.check_model(model_q)
    t_exported = time.perf_counter()

    report = measure(
        float_model=float_model, model_q=model_q, sim=sim, plan=plan, points=points, config=config,
        eval_data=eval_data, labels=labels, batch=batch, stored=stored, mixed=mixed, notes=notes,
        n_calib=next(iter(calib_data.values())).shape[0],
        timing={"calibrate_s": t_calibrated - t_start, "export_s": t_exported - t_calibrated},
    )
    report.timing["total_s"] = time.perf_counter() - t_start
    return QuantResult(model_q, {e.tensor: e for e in plan}, report)


def _strip_value_info(model: onnx.ModelProto) -> None:
    """Drop inferred intermediate shapes: Q/DQ renamed tensors, and a stale entry would mislead a runtime."""
    del model.graph.value_info[:]


def _calibration_data(calib, calib_random: bool, model, config: QuantConfig, notes: list[str]):
    if calib is not None:
        data, _ = load_data(calib, model, "calibration")
        return data
    if not calib_random:
        raise UserError(
            "no calibration data: pass --calib DATA.npz (one array per model input), "
            "or --calib-random to calibrate on random normal inputs (ranges will not match real data)"
        )
    msg = f"calibrating on {RANDOM_CALIB_SAMPLES} random normal samples: ranges will not match real data"
    warnings.warn(msg, stacklevel=3)
    notes.append(msg)
    return random_data(model, RANDOM_CALIB_SAMPLES, np.random.default_rng(config.seed))


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


def _build_plan(points: QuantPoints, ranges, weights_f, config: QuantConfig, overrides: Mapping[str, str]):
    """Return the plan for the given per-node weight overrides ("float" keeps a node's weights in float)."""
    plan: dict[str, TensorQuant] = {}
    for tensor, (lo, hi) in ranges.items():
        plan[tensor] = activation_entry(tensor, lo, hi, config.acts)
    cfg = QuantConfig(**{**config.__dict__, "overrides": dict(overrides)})
    for node in points.nodes:
        if not node.weight or overrides.get(node.name) == "float":
            continue
        w = weights_f[node.weight]
        entry = weight_entry(node, w, weight_format(node, cfg), cfg)
        plan[node.weight] = entry
        if node.bias and node.acts:
            b = bias_entry(node, weights_f[node.bias], plan[node.acts[0]], entry)
            if b is not None:
                plan[node.bias] = b
    return list(plan.values())


__all__ = ["QuantResult", "quantize"]
