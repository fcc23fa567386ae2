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
from edgeq.feeds import feed_samples
from edgeq.graph.load import load_model as read_onnx

from .analog_activation import ActivationSpec
from .onnx_map import AnalogNode, DigitalNode
from .onnx_sim import OnnxCrossbarModel, fp32_outputs
from .presets import CrossbarConfig, get_preset

__all__ = ["SimulationResult", "eval_runs", "fp32_reference", "load_model", "simulate"]


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
    notes: list[str] = field(default_factory=list)
    """Warnings about the configuration on this model (e.g. a read-out known to fail on its tiles)."""

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
            "notes": self.notes,
        }


def _spread(values: np.ndarray) -> float:
    """Return the std over chips; 0 when all are equal (also when all are inf: an exact simulation)."""
    if np.all(values == values[0]):
        return 0.0
    return float(np.std(values))


Runs = list[tuple[dict[str, np.ndarray], "np.ndarray | None"]]
"""The data as onnxruntime runs: (feed, labels or None) per run."""

WHOLE = 1 << 31
"""Samples per run for models with a dynamic batch: the whole data in one run (the simulator chunks it itself)."""


def eval_runs(model: onnx.ModelProto, data, labels: np.ndarray | None = None, what: str = "eval") -> Runs:
    """Return the data as the runs it is fed in, checked against the model's inputs.

    `data` is any source `edgeq quantize` takes (`edgeq.feeds.open_feeds`): a dict of arrays or an .npz with a
    sample axis (one run when the batch is dynamic, one per sample when it is fixed), a folder of per-run .npz
    files (stateful or variable-length models), .npy, images, "file.py:function", a FeedSet, or runs this function
    returned. `labels` go with a dict of arrays.
    """
    from edgeq.data import LABELS
    from edgeq.feeds import open_feeds

    if isinstance(data, list):  # runs already opened (by `edgeq simulate` while validating)
        return data
    if labels is not None:
        if not isinstance(data, dict):
            raise UserError(f"labels come with a dict of arrays; store them in the {what} data as {LABELS!r}")
        data = {**data, LABELS: np.asarray(labels)}
    runs = list(open_feeds(data, model, what, batch=WHOLE).with_labels())
    if not runs:
        raise UserError(f"the {what} data holds no sample")
    return runs


def fp32_reference(model: onnx.ModelProto, runs: Runs) -> list[np.ndarray]:
    """Return the FP32 model's first output of every run (UserError when the model cannot run on the data)."""
    return [fp32_outputs(model, feed)[0] for feed, _ in runs]


def _flat(outputs: list[np.ndarray]) -> np.ndarray:
    """Return every run's output values in one vector (runs may differ in shape: stateful or variable-length)."""
    return np.concatenate([np.asarray(o, dtype=np.float64).ravel() for o in outputs])


def load_model(model: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    """Return the ModelProto of a path or proto; UserError naming the file when it is missing or unreadable."""
    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.is_file():
        raise UserError(f"model {path} does not exist; pass the path of an .onnx file")
    # no onnx.checker: it rejects models onnxruntime runs (outputs without a shape); the FP32 run checks
    return read_onnx(path, check=False)


CALIB_SAMPLES = 32
"""Samples of the evaluation data the periphery is calibrated on when no calibration data is given."""


def _calibration_runs(model: onnx.ModelProto, runs: Runs, calib) -> tuple[Runs, str]:
    """Return the calibration runs (from `calib`, else the first CALIB_SAMPLES samples of the evaluation runs) and a
    note saying where they come from."""
    if calib is not None:
        chosen = eval_runs(model, calib, what="calib")
        return chosen, f"calibration data given ({sum(feed_samples(f) for f, _ in chosen)} samples)"
    chosen, seen = [], 0
    for feed, _ in runs:
        n = feed_samples(feed)
        take = min(n, CALIB_SAMPLES - seen)
        if take < n:  # cut the run's sample axis (inputs without it, e.g. a state, stay whole)
            feed = {k: (v[:take] if np.ndim(v) and len(v) == n else v) for k, v in feed.items()}
        chosen.append((feed, None))
        seen += take
        if seen >= CALIB_SAMPLES:
            break
    return chosen, f"first {seen} samples of the evaluation data (no calibration data given)"


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
    data,
    labels: np.ndarray | None = None,
    drift_times=(0.0,),
    repeats: int = 1,
    seed: int = 0,
    *,
    progress: Callable[[int, int], None] | None = None,
    reference: list[np.ndarray] | None = None,
    rnn_activation: ActivationSpec | None = None,
    calib=None,
    task_metric: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> SimulationResult:
    """Return accuracy (with labels) and SQNR vs FP32 of the model on simulated tiles at each drift time.

    `config` is a preset name or a CrossbarConfig; `data` is any source `eval_runs` takes (a dict of arrays, an
    .npz, a folder of per-run .npz, ...; labels inside it or as `labels`); `reference` is the FP32 first output of
    every run when already computed (`fp32_reference`); `calib` is the data the periphery is calibrated on when
    `config.calibration` asks for it (default: the first CALIB_SAMPLES samples of `data`);
    `task_metric(fp32_output, simulated_output)` scores each run's first output for the task (e.g.
    `edgeq.metrics.mask_iou`), averaged over runs by their samples. The same seed gives the same numbers.
    """
    from edgeq.metrics import sqnr_db, top1_accuracy

    proto = load_model(model)
    cfg = _config(config)
    times = _times(drift_times)
    if int(repeats) < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    runs = eval_runs(proto, data, labels)
    weights = np.array([feed_samples(feed) for feed, _ in runs], dtype=np.float64)
    has_labels = all(y is not None for _, y in runs)
    truth = np.concatenate([y for _, y in runs]) if has_labels else None
    sim = OnnxCrossbarModel(proto, cfg, rnn_activation)
    calib_runs, calib_note = _calibration_runs(proto, runs, calib) if cfg.calibration.active else (None, None)
    reference = fp32_reference(proto, runs) if reference is None else reference
    flat_reference = _flat(reference)
    sqnr = np.zeros((repeats, len(times)))
    acc = None if truth is None else np.zeros((repeats, len(times)))
    task = None if task_metric is None else np.zeros((repeats, len(times)))
    step = 0
    for r in range(repeats):
        sim.program(np.random.default_rng([seed, r]))
        if calib_runs is not None:
            cal_rng = np.random.default_rng([seed, r, 2])
            for feed, _ in calib_runs:
                sim.calibrate(feed, cal_rng)
        for k, t in enumerate(times):
            rng = np.random.default_rng([seed, r, k, 1])
            outs = [sim.run(feed, t, rng)[0] for feed, _ in runs]
            sqnr[r, k] = sqnr_db(flat_reference, _flat(outs))
            if acc is not None:
                acc[r, k] = top1_accuracy(np.concatenate(outs), truth)
            if task is not None:
                task[r, k] = np.average([task_metric(a, b) for a, b in zip(reference, outs)], weights=weights)
            step += 1
            if progress is not None:
                progress(step, repeats * len(times))
    fp32_acc = None if truth is None else top1_accuracy(np.concatenate(reference), truth)
    return SimulationResult(cfg.name, times, sqnr, acc, fp32_acc, sim.nodes, sim.digital_nodes, calib_note, task,
                            _notes(cfg, sim.nodes))


def _notes(cfg: CrossbarConfig, nodes: list[AnalogNode]) -> list[str]:
    """Return warnings about the configuration on these tiles."""
    notes = []
    one_column = [n.name for n in nodes if n.tile_cols == 1]
    if cfg.drift_compensation == "all_ones" and one_column:
        notes.append(f"drift compensation 'all_ones' on one-column tiles ({len(one_column)} node(s), e.g. "
                     f"{one_column[0]}): the read-out of such a tile is one |column sum|, which can be near zero and "
                     "then scales the column by a large factor; use mean_abs (the _cal presets) or --group-mapping "
                     "block")
    return notes
