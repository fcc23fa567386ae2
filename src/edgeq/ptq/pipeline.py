"""`quantize(model_or_path, config, ...) -> QuantResult`: the PTQ pipeline behind `edgeq quantize`.

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
from .config import QuantConfig, as_config
from ..data import batch_size_for, load_data, random_data
from ..errors import ConfigError, UserError
from .measure import measure
from ..graph.load import load_model
from ..graph.plan import TensorQuant
from ..graph.points import QuantPoints, find_points
from ..graph.prepare import prepare
from ..graph.qdq import export_quantized
from ..graph.save import save_model
from ..io import atomic_write_text
from .mixed import choose_overrides
from .planner import build_plan
from .report import QuantReport
from .reference import StagedSimulator
from .targets import apply_fixed_activations, output_points_help, target_notes
from ..graph.placement import add_join_points, add_output_points
from ..graph.target_checks import check_target

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
        calib: calibration data: .npz path, folder of .npy, or dict input name -> array [N, ...]. None (and not
            `calib_random`): dynamic int8 for 8-bit integer formats, weight-only otherwise (`ptq/datafree.py`).
        eval: evaluation data like `calib`, optionally with "labels"; defaults to the calibration data.
        calib_random: allow calibrating on random normal data when `calib` is None (warns).
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
    model = load_model(model_or_path)
    float_model, _ = prepare(model)
    notes: list[str] = []
    calib_data = _calibration_data(calib, calib_random, float_model, config, notes)
    eval_data, labels = load_data(eval, float_model, "eval") if eval is not None else (calib_data, None)
    if config.max_drop is not None and labels is None:
        raise UserError("--max-drop needs labels: pass --eval data with a 'labels' array (or use --min-sqnr)")
    points = find_points(float_model, config.exclude)
    if output_points_help(config):
        add_output_points(float_model, points)  # graph/placement.py: lets ORT fuse Conv before HardSwish/SiLU
        add_join_points(float_model, points)
    _check_names(float_model, points, config)
    if not points.nodes:
        raise UserError("the model has no Conv, ConvTranspose, Gemm or MatMul with float inputs to quantize")
    batch = batch_size_for(float_model)
    params = [n.weight for n in points.nodes if n.weight] + [n.bias for n in points.nodes if n.bias]
    sim = StagedSimulator(float_model, points.activations, params)
    ranges = calibrate(sim, calib_data, batch, points, config, progress)
    t_calibrated = time.perf_counter()

    weights_f = {name: sim.params[name].astype(np.float32) for name in params}
    mixed = None
    overrides = dict(config.overrides)
    if config.max_drop is not None or config.min_sqnr is not None:
        mixed = choose_overrides(sim, points, ranges, weights_f, config, eval_data, labels, batch, progress)
        overrides.update(mixed.overrides)
    plan = apply_fixed_activations(build_plan(points, ranges, weights_f, config, overrides), float_model, config.target)
    model_q, stored = export_quantized(float_model, plan)
    _strip_value_info(model_q)
    onnx.checker.check_model(model_q)
    target_check = check_target(model_q, config.target)
    notes.extend(target_notes(config))
    t_exported = time.perf_counter()

    report = measure(
        float_model=float_model, model_q=model_q, sim=sim, plan=plan, points=points, config=config,
        eval_data=eval_data, labels=labels, batch=batch, stored=stored, mixed=mixed, notes=notes,
        n_calib=next(iter(calib_data.values())).shape[0],
        timing={"calibrate_s": t_calibrated - t_start, "export_s": t_exported - t_calibrated},
    )
    report.target_check = target_check.to_dict()
    report.timing["total_s"] = time.perf_counter() - t_start
    return QuantResult(model_q, {e.tensor: e for e in plan}, report)


def _strip_value_info(model: onnx.ModelProto) -> None:
    """Drop inferred intermediate shapes: Q/DQ renamed tensors, and a stale entry would mislead a runtime."""
    del model.graph.value_info[:]


def _calibration_data(calib, calib_random: bool, model, config: QuantConfig, notes: list[str]):
    if calib is not None:
        data, _ = load_data(calib, model, "calibration")
        return data
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


__all__ = ["QuantResult", "quantize"]
