"""The `edgeq simulate` job around `simulate`: read the files, check every option before any work, choose where the
results go without overwriting an earlier run, and write results.json and the PNG atomically."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from edgeq.errors import ConfigError, UserError

from .api import Runs, SimulationResult, eval_runs, fp32_reference, load_model, simulate
from .presets import CrossbarConfig, get_preset
from .report import format_duration, parse_durations, plot_png

__all__ = ["SimulationRun", "execute", "parse_rnn_activation", "payload", "prepare_run", "write_outputs"]


@dataclass(frozen=True)
class SimulationRun:
    """A validated simulation job."""

    model: onnx.ModelProto
    model_name: str
    config: CrossbarConfig
    runs: Runs
    """The evaluation data as onnxruntime runs, (feed, labels or None) each."""
    reference: list[np.ndarray]
    """FP32 first output of every run (computed while validating: a model that cannot run on the data fails before
    any work)."""
    drift_times_s: list[float]
    repeats: int
    seed: int
    out_dir: Path | None
    """Folder for results.json and the PNG (None when only `output` is written)."""
    output: Path | None = None
    """The results JSON file when given with -o/--output."""
    rnn_activation: object = None
    """ActivationSpec for LSTM/GRU gate nonlinearities (ramp NL-ADC or linear ADC + table); None = exact."""
    calib: Runs | None = None
    """Runs the periphery is calibrated on (presets with calibration); None: the first samples of the data."""


def _destination(model_path: Path, preset: str, out_dir: Path | None, output: Path | None,
                 force: bool) -> tuple[Path | None, Path | None]:
    """Return (folder, file) for the results; refuse to overwrite an earlier run unless force."""
    if output is not None:
        output = Path(output)
        if output.is_dir():
            raise UserError(f"-o/--output {output} is a folder; pass a file name, or use --out-dir for a folder")
        if output.exists() and not force:
            raise UserError(f"{output} exists; pass --force to overwrite it or choose another -o/--output")
        if not output.parent.exists():
            raise UserError(f"folder {output.parent} does not exist; create it or choose another -o/--output")
    if out_dir is not None:
        out_dir = Path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise UserError(f"--out-dir {out_dir} is an existing file; pass a folder")
        if (out_dir / "results.json").exists() and not force:
            raise UserError(f"{out_dir} already holds a run (results.json); pass --force to overwrite it or choose "
                            "another --out-dir")
        return out_dir, output
    if output is not None:
        return None, output
    base = Path("runs") / "simulate" / f"{model_path.stem}-{preset}"
    folder, k = base, 1
    while (folder / "results.json").exists():  # a default folder never overwrites: it gets the next free suffix
        k += 1
        folder = base.with_name(f"{base.name}-{k}")
    return folder, None


def prepare_run(model_path: Path, preset: str, data_path: Path, drift: str, repeats: int, seed: int,
                labels_key: str | None = None, wire_ohm: float = 0.0, out_dir: Path | None = None,
                output: Path | None = None, force: bool = False, rnn_activation: str = "exact",
                calib_path: Path | None = None) -> SimulationRun:
    """Return a validated job, or raise UserError/ConfigError saying what is wrong and what to do. The data is any
    source `edgeq quantize` takes: .npz with a sample axis, a folder of per-run .npz or of .npy, images."""
    from edgeq.data import LABELS
    from edgeq.io import load_arrays

    model_path = Path(model_path)
    model = load_model(model_path)
    config = get_preset(preset)
    if not math.isfinite(wire_ohm) or wire_ohm < 0:
        raise ConfigError(f"--wire-ohm must be a finite number >= 0, got {wire_ohm}")
    if wire_ohm > 0:
        config = dataclasses.replace(config.with_ir_drop(wire_ohm), name=f"{config.name}+ir{wire_ohm:g}ohm")
    if repeats < 1:
        raise ConfigError("--repeats must be >= 1")
    times = parse_durations(drift)
    data = data_path
    if labels_key is not None:  # labels under another name: the one array renamed, the rest as stored
        arrays = load_arrays(data_path)
        if labels_key not in arrays:
            raise UserError(f"--labels {labels_key!r}: {data_path} has no such array; it has {sorted(arrays)}")
        data = {**{k: v for k, v in arrays.items() if k != labels_key}, LABELS: arrays[labels_key]}
    runs = eval_runs(model, data)
    folder, file = _destination(model_path, config.name, out_dir, output, force)
    reference = fp32_reference(model, runs)
    gates = parse_rnn_activation(rnn_activation)
    calib = eval_runs(model, calib_path, what="calib") if calib_path is not None else None
    return SimulationRun(model, model_path.name, config, runs, reference, times, repeats, seed, folder, file, gates,
                         calib)


def parse_rnn_activation(text: str):
    """Return the ActivationSpec for 'exact', 'ramp:BITS[:PRESET]' or 'linear:BITS[:PRESET]' (None for exact)."""
    from .analog_activation import ActivationSpec
    from .ramp_adc import get_preset as ramp_preset

    kind, *rest = text.split(":")
    if kind == "exact" and not rest:
        return None
    if kind not in ("ramp", "linear") or not 1 <= len(rest) <= 2 or not rest[0].isdigit():
        raise ConfigError(f"--rnn-activation {text!r}: write exact, ramp:BITS[:PRESET] or linear:BITS[:PRESET]")
    try:
        return ActivationSpec(kind, ramp_preset(rest[1] if len(rest) == 2 else "ideal", bits=int(rest[0])))
    except UserError as err:
        raise ConfigError(f"--rnn-activation {text!r}: {err}") from None


def execute(run: SimulationRun, show_progress: bool = True) -> SimulationResult:
    """Run the job (a progress bar on a terminal unless show_progress is False) and return its result."""
    from tqdm import tqdm

    with tqdm(total=run.repeats * len(run.drift_times_s), desc="chips x times", leave=False,
              disable=None if show_progress else True) as bar:
        return simulate(run.model, run.config, run.runs, None, run.drift_times_s, run.repeats, run.seed,
                        progress=lambda done, total: bar.update(done - bar.n), reference=run.reference,
                        rnn_activation=run.rnn_activation, calib=run.calib)


def payload(run: SimulationRun, result: SimulationResult) -> dict:
    """Return the results.json content of a finished run (without cost: the CLI composes that)."""
    gates = run.rnn_activation
    return {"model": run.model_name, "seed": run.seed, **result.to_json(), "config": run.config.describe(),
            "rnn_activation": None if gates is None else {"kind": gates.kind, "bits": gates.adc.bits}}


def write_outputs(run: SimulationRun, content: dict, result: SimulationResult) -> list[Path]:
    """Write results.json and accuracy_vs_time.png into the run's folder and/or the -o file; return the paths."""
    from edgeq.io import atomic_write_bytes, write_json

    written = []
    if run.output is not None:
        write_json(run.output, content)
        written.append(run.output)
    if run.out_dir is not None:
        run.out_dir.mkdir(parents=True, exist_ok=True)
        png = plot_png(result, f"{run.model_name} on {run.config.name}: "
                       + ", ".join(map(format_duration, run.drift_times_s)))
        json_path, png_path = run.out_dir / "results.json", run.out_dir / "accuracy_vs_time.png"
        write_json(json_path, content)
        atomic_write_bytes(png_path, png)
        written += [json_path, png_path]
    return written
