"""`simulate`: the one analog entry point. Accuracy and output SQNR of an ONNX model on simulated crossbar tiles.

    from edgeq.simulators import simulate
    result = simulate("model.onnx", "pcm", {"image": x}, labels=y, drift_times=[1, 86400, 3.15e7], repeats=5)
    result.summary()        # per drift time: SQNR (dB) and accuracy (fraction), mean and std over chips

Each repeat programs a fresh chip (new programming noise and faults) and reads it at every drift time, so the
spread over repeats is chip-to-chip variation and the trend over time is that of one chip. The CLI, the gate
runner and the sweep all call this; pricing is composed outside (`edgeq.hw_models`), so this package never
imports the cost model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from edgeq.errors import ConfigError, UserError
from edgeq.graph.load import load_model as read_onnx

from .analog_activation import ActivationSpec
from .onnx_map import AnalogNode, DigitalNode
from .onnx_sim import OnnxCrossbarModel, fp32_outputs
from .presets import CrossbarConfig, get_preset

__all__ = ["SimulationResult", "load_model", "model_feeds", "per_sample", "run_batched", "simulate"]


@dataclass
class SimulationResult:
    """Accuracy and output SQNR vs FP32 at each drift time, for each Monte-Carlo repeat."""

    preset: str
    drift_times_s: list[float]
    sqnr_db: np.ndarray
    """(repeats, times) SQNR of the first model output against the FP32 model, in dB."""
    accuracy: np.ndarray | None
    """(repeats, times) top-1 accuracy as a fraction, or None without labels."""
    fp32_accuracy: float | None
    nodes: list[AnalogNode] = field(default_factory=list)
    digital_nodes: list[DigitalNode] = field(default_factory=list)
    """Matrix products that stay digital, each with its reason."""
    calibration: str | None = None
    """Where the periphery calibration inputs came from (None: no calibration)."""
    task: np.ndarray | None = None
    """(repeats, times) the caller's task metric of the first output against FP32's, or None."""

    def summary(self) -> list[dict]:
        """Return one dict per drift time with mean and std over repeats."""
        rows = []
        for k, t in enumerate(self.drift_times_s):
            row = {"t_s": t, "sqnr_db_mean": float(np.mean(self.sqnr_db[:, k])),
                   "sqnr_db_std": _spread(self.sqnr_db[:, k])}
            if self.accuracy is not None:
                row.update(accuracy_mean=float(np.mean(self.accuracy[:, k])),
                           accuracy_std=float(np.std(self.accuracy[:, k])))
            if self.task is not None:
                row.update(task_mean=float(np.mean(self.task[:, k])), task_std=_spread(self.task[:, k]))
            rows.append(row)
        return rows

    def to_json(self) -> dict:
        """Return a JSON-ready dict of the whole result (write it with `edgeq.io.dumps_json`)."""
        return {
            "preset": self.preset,
            "drift_times_s": self.drift_times_s,
            "repeats": int(self.sqnr_db.shape[0]),
            "fp32_accuracy": self.fp32_accuracy,
            "summary": self.summary(),
            "sqnr_db": self.sqnr_db.tolist(),
            "accuracy": None if self.accuracy is None else self.accuracy.tolist(),
            "analog_nodes": [dataclasses.asdict(n) for n in self.nodes],
            "digital_nodes": [dataclasses.asdict(n) for n in self.digital_nodes],
            "calibration": self.calibration,
            "task": None if self.task is None else self.task.tolist(),
        }


def _spread(values: np.ndarray) -> float:
    """Return the std over chips; 0 when all are equal (also when all are inf: an exact simulation)."""
    if np.all(values == values[0]):
        return 0.0
    return float(np.std(values))


def per_sample(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> bool:
    """Return True when the model fixes its batch at 1 but the data holds more samples: run them one by one."""
    inits = {i.name for i in model.graph.initializer}
    dims = [i.type.tensor_type.shape.dim for i in model.graph.input if i.name not in inits]
    fixed = all(d and d[0].dim_value == 1 for d in dims)
    return fixed and all(np.ndim(v) and len(v) > 1 for v in feeds.values())


def run_batched(fn: Callable[[dict], list[np.ndarray]], feeds: dict[str, np.ndarray], split: bool) -> list:
    """Return fn(feeds), or with split the outputs of fn on each sample concatenated along the leading axis."""
    if not split:
        return fn(feeds)
    n = len(next(iter(feeds.values())))
    outs = [fn({k: v[i : i + 1] for k, v in feeds.items()}) for i in range(n)]
    return [np.concatenate(parts, axis=0) for parts in zip(*outs)]


def load_model(model: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    """Return the ModelProto of a path or proto; UserError naming the file when it is missing or unreadable."""
    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.is_file():
        raise UserError(f"model {path} does not exist; pass the path of an .onnx file")
    # no onnx.checker: it rejects models onnxruntime runs (outputs without a shape); the FP32 run checks
    return read_onnx(path, check=False)


def model_feeds(model: onnx.ModelProto, data: dict[str, np.ndarray] | str | Path) -> dict[str, np.ndarray]:
    """Return the model's input arrays from `data` (dict or .npz path), cast to the input types and checked finite."""
    from edgeq.io import load_arrays

    arrays = load_arrays(data) if isinstance(data, (str, Path)) else data
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    missing = [i.name for i in inputs if i.name not in arrays]
    if missing:
        raise UserError(f"the data has no array for model input(s) {missing}; it has {sorted(arrays)}")
    feeds = {}
    for inp in inputs:
        elem = onnx.helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type)
        value = np.ascontiguousarray(np.asarray(arrays[inp.name]).astype(elem, copy=False))
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            bad = int(np.count_nonzero(~np.isfinite(value)))
            raise UserError(f"input {inp.name!r} has {bad} NaN/inf value(s); clean the data before simulating")
        feeds[inp.name] = value
    return feeds


CALIB_SAMPLES = 32
"""Samples of the evaluation data the periphery is calibrated on when no calibration data is given."""


def _calibration_feeds(model: onnx.ModelProto, feeds: dict, calib) -> tuple[dict, str]:
    """Return the calibration inputs and a note saying where they come from."""
    if calib is not None:
        chosen = model_feeds(model, calib)
        return chosen, f"calibration data given ({len(next(iter(chosen.values())))} samples)"
    n = min(CALIB_SAMPLES, *(len(v) for v in feeds.values() if np.ndim(v)))
    chosen = {k: (v[:n] if np.ndim(v) and len(v) == len(next(iter(feeds.values()))) else v) for k, v in feeds.items()}
    return chosen, f"first {n} samples of the evaluation data (no calibration data given)"


def _config(config: str | CrossbarConfig) -> CrossbarConfig:
    if isinstance(config, CrossbarConfig):
        return config
    if isinstance(config, str):
        return get_preset(config)
    raise ConfigError(f"config must be a preset name or a CrossbarConfig, got {type(config).__name__}")


def _times(drift_times) -> list[float]:
    times = [float(t) for t in drift_times]
    if not times or any(not math.isfinite(t) or t < 0 or t > 1e12 for t in times):
        raise ConfigError(f"drift times must be finite seconds in [0, 1e12] (about 30,000 years), got {times}")
    return times


def simulate(
    model: str | Path | onnx.ModelProto,
    config: str | CrossbarConfig,
    data: dict[str, np.ndarray] | str | Path,
    labels: np.ndarray | None = None,
    drift_times=(0.0,),
    repeats: int = 1,
    seed: int = 0,
    *,
    progress: Callable[[int, int], None] | None = None,
    reference: np.ndarray | None = None,
    rnn_activation: ActivationSpec | None = None,
    calib: dict[str, np.ndarray] | str | Path | None = None,
    task_metric: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> SimulationResult:
    """Return accuracy (with labels) and SQNR vs FP32 of the model on simulated tiles at each drift time.

    `config` is a preset name or a CrossbarConfig; `data` maps input names to arrays (or is an .npz path);
    `reference` is the FP32 first output when already computed; `calib` holds the inputs the periphery is
    calibrated on when `config.calibration` asks for it (default: the first CALIB_SAMPLES samples of `data`);
    `task_metric(fp32_output, simulated_output)` scores each chip's first output for the task (e.g.
    `edgeq.metrics.mask_iou`). The same seed gives the same numbers.
    """
    from edgeq.metrics import sqnr_db, top1_accuracy

    proto = load_model(model)
    cfg = _config(config)
    feeds = model_feeds(proto, data)
    times = _times(drift_times)
    if int(repeats) < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    rows = {len(v) for v in feeds.values() if np.ndim(v)}
    if labels is not None and {len(labels)} != rows:
        raise UserError(f"the labels have {len(labels)} rows but the inputs have {sorted(rows)}")
    sim = OnnxCrossbarModel(proto, cfg, rnn_activation)
    split = per_sample(proto, feeds)
    calib_feeds, calib_note = None, None
    if cfg.calibration.active:
        calib_feeds, calib_note = _calibration_feeds(proto, feeds, calib)
    if reference is None:
        reference = run_batched(lambda f: fp32_outputs(proto, f), feeds, split)[0]
    sqnr = np.zeros((repeats, len(times)))
    acc = None if labels is None else np.zeros((repeats, len(times)))
    task = None if task_metric is None else np.zeros((repeats, len(times)))
    step = 0
    for r in range(repeats):
        sim.program(np.random.default_rng([seed, r]))
        if calib_feeds is not None:
            cal_rng = np.random.default_rng([seed, r, 2])
            run_batched(lambda f: sim.calibrate(f, cal_rng) or [], calib_feeds, per_sample(proto, calib_feeds))
        for k, t in enumerate(times):
            rng = np.random.default_rng([seed, r, k, 1])
            out = run_batched(lambda f: sim.run(f, t, rng), feeds, split)[0]
            sqnr[r, k] = sqnr_db(reference, out)
            if acc is not None:
                acc[r, k] = top1_accuracy(out, labels)
            if task is not None:
                task[r, k] = task_metric(reference, out)
            step += 1
            if progress is not None:
                progress(step, repeats * len(times))
    fp32_acc = None if labels is None else top1_accuracy(reference, labels)
    return SimulationResult(cfg.name, times, sqnr, acc, fp32_acc, sim.nodes, sim.digital_nodes, calib_note, task)
