"""The `edgeq simulate` job: validate the inputs, run `simulate_onnx`, write results.json and the PNG atomically."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from .onnx_sim import SimulationResult, fp32_outputs, simulate_onnx
from .presets import CrossbarConfig, get_preset
from .report import format_duration, parse_durations, plot_png

__all__ = ["SimulationRun", "prepare_run", "run_simulation"]


@dataclass(frozen=True)
class SimulationRun:
    """A validated simulation job."""

    model: onnx.ModelProto
    model_name: str
    config: CrossbarConfig
    feeds: dict[str, np.ndarray]
    labels: np.ndarray | None
    reference: np.ndarray
    """FP32 first output (computed while validating: a model that cannot run on the data fails before any work)."""
    drift_times_s: list[float]
    repeats: int
    seed: int
    out_dir: Path
    rnn_activation: object = None
    """ActivationSpec for LSTM/GRU gate nonlinearities (ramp NL-ADC or linear ADC + table); None = exact."""


def prepare_run(
    model_path: Path,
    preset: str,
    data_path: Path,
    drift: str,
    repeats: int,
    seed: int,
    labels_key: str = "labels",
    wire_ohm: float = 0.0,
    out_dir: Path | None = None,
    rnn_activation: str = "exact",
) -> SimulationRun:
    """Return a validated job, or raise ValueError saying what is wrong and what to do."""
    from edgeq.errors import UserError
    from edgeq.io import load_arrays

    model_path = Path(model_path)
    if not model_path.is_file():
        raise ValueError(f"model {model_path} does not exist; pass the path of an .onnx file")
    try:
        model = onnx.load(str(model_path))
        onnx.checker.check_model(model)
    except Exception as err:  # onnx raises several unrelated types for unreadable files
        raise ValueError(f"cannot read {model_path} as an ONNX model ({str(err).splitlines()[0][:200]})") from None
    config = get_preset(preset)
    if wire_ohm < 0:
        raise ValueError("--wire-ohm must be >= 0")
    if wire_ohm > 0:
        config = dataclasses.replace(config.with_ir_drop(wire_ohm), name=f"{config.name}+ir{wire_ohm:g}ohm")
    if repeats < 1:
        raise ValueError("--repeats must be >= 1")
    times = parse_durations(drift)
    try:
        arrays = load_arrays(data_path)
    except UserError as err:
        raise ValueError(str(err)) from None
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    missing = [i.name for i in inputs if i.name not in arrays]
    if missing:
        raise ValueError(f"{data_path} has no array for model input(s) {missing}; it has {sorted(arrays)}")
    feeds = {}
    for inp in inputs:
        elem = onnx.helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type)
        feeds[inp.name] = np.ascontiguousarray(arrays[inp.name].astype(elem, copy=False))
    batch = {len(v) for v in feeds.values()}
    labels = arrays.get(labels_key)
    if labels is not None and {len(labels)} != batch:
        raise ValueError(f"{labels_key!r} has {len(labels)} rows but the inputs have {sorted(batch)}")
    out = Path(out_dir) if out_dir is not None else Path("runs") / "simulate" / f"{model_path.stem}-{config.name}"
    reference = fp32_outputs(model, feeds)[0]
    gates = parse_rnn_activation(rnn_activation)
    return SimulationRun(model, model_path.name, config, feeds, labels, reference, times, repeats, seed, out, gates)


def parse_rnn_activation(text: str):
    """Return the ActivationSpec for 'exact', 'ramp:BITS[:PRESET]' or 'linear:BITS[:PRESET]' (None for exact)."""
    from edgeq.errors import UserError

    from .analog_activation import ActivationSpec
    from .ramp_adc import get_preset as ramp_preset

    kind, *rest = text.split(":")
    if kind == "exact" and not rest:
        return None
    if kind not in ("ramp", "linear") or not 1 <= len(rest) <= 2 or not rest[0].isdigit():
        raise ValueError(f"--rnn-activation {text!r}: write exact, ramp:BITS[:PRESET] or linear:BITS[:PRESET]")
    try:
        return ActivationSpec(kind, ramp_preset(rest[1] if len(rest) == 2 else "ideal", bits=int(rest[0])))
    except UserError as err:
        raise ValueError(f"--rnn-activation {text!r}: {err}") from None


def run_simulation(run: SimulationRun) -> tuple[SimulationResult, dict, list[Path]]:
    """Run the job with a progress bar; write results.json and accuracy_vs_time.png; return result, cost, paths."""
    from tqdm import tqdm

    from edgeq.io import atomic_write_bytes, atomic_write_text

    with tqdm(total=run.repeats * len(run.drift_times_s), desc="chips x times", leave=False) as bar:
        result = simulate_onnx(
            run.model,
            run.config,
            run.feeds,
            run.labels,
            run.drift_times_s,
            run.repeats,
            run.seed,
            progress=lambda done, total: bar.update(done - bar.n),
            reference=run.reference,
            rnn_activation=run.rnn_activation,
        )
    cost = analog_cost(run)
    payload = {"model": run.model_name, "seed": run.seed, **result.to_json(), "config": run.config.describe()}
    payload["cost"] = cost
    gates = run.rnn_activation
    payload["rnn_activation"] = None if gates is None else {"kind": gates.kind, "bits": gates.adc.bits}
    text = json.dumps(payload, indent=2, default=_json_default)
    png = plot_png(
        result, f"{run.model_name} on {run.config.name}: " + ", ".join(map(format_duration, run.drift_times_s))
    )
    run.out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = run.out_dir / "results.json", run.out_dir / "accuracy_vs_time.png"
    atomic_write_text(json_path, text)
    atomic_write_bytes(png_path, png)
    return result, cost, [json_path, png_path]


def analog_cost(run: SimulationRun) -> dict:
    """Return edgeq cost's analog summary (energy per inference, TOPS/W, vs FP32/INT8) for tiles like the simulated ones."""
    from edgeq.hw_models.analog import TileConfig as CostTile
    from edgeq.hw_models.report import cost_summary

    # Ideal converters have no bit width: price them as the 8-bit converters the presets' ADCs default to.
    tile = CostTile(
        name=f"{run.config.name}-tiles",
        rows=run.config.tile.rows,
        cols=run.config.tile.cols,
        adc_bits=run.config.adc.bits or 8,
        dac_bits=run.config.dac.bits or 8,
        differential=run.config.tile.mapping == "differential",
    )
    return cost_summary(run.model, "int8", target="analog", tech=tile.tech, hw=tile)


def _json_default(value):
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
