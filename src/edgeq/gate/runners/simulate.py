"""`simulate`: analog in-memory-computing simulation of an ONNX model (`edgeq.simulators.simulate`), gated on
accuracy and output SQNR against FP32. Each Monte-Carlo repeat (a freshly programmed chip) is one sample, so the
baseline's spread is the device noise and a regression must exceed k standard errors of it."""

from __future__ import annotations

from ...data import load_data
from ...errors import UserError
from ...graph.load import load_model
from ...simulators import get_preset, simulate
from ..config import CaseSpec
from ._inputs import require

_OPTIONS = {"preset", "repeats", "drift_s", "drift"}


def metrics_from_simulation(accuracy, sqnr_db) -> dict[str, list[float]]:
    """Return per-repeat samples from (repeats, 1) arrays: accuracy as a fraction (None without labels), SQNR in dB."""
    samples = {"sqnr_db": [float(v) for v in sqnr_db[:, 0]]}
    if accuracy is not None:
        samples["accuracy"] = [float(v) for v in accuracy[:, 0]]
    return samples


def run_simulate(case: CaseSpec, seed: int) -> dict[str, list[float]]:
    """Return the per-repeat accuracy and SQNR samples of the case's model on the preset's simulated tiles."""
    unknown = sorted(set(case.options) - _OPTIONS)
    if unknown:
        raise UserError(f"case {case.name!r}: simulate has no option(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(sorted(_OPTIONS))}")
    model_path = require(case.model, "model", case.name, "simulate")
    eval_path = require(case.eval, "eval", case.name, "simulate")
    try:
        config = get_preset(str(case.options.get("preset", "ideal")))
    except (KeyError, ValueError) as err:
        raise UserError(f"case {case.name!r}: {err}") from None
    repeats = case.options.get("repeats", 1)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise UserError(f"case {case.name!r}: simulate option repeats must be an integer >= 1, got {repeats!r}")
    drift_s = _drift_seconds(case)
    model = load_model(model_path, check=False)
    feeds, labels = load_data(eval_path, model, "eval")
    result = simulate(model, config, feeds, labels, drift_times=[drift_s], repeats=repeats, seed=seed)
    return metrics_from_simulation(result.accuracy, result.sqnr_db)


def _drift_seconds(case: CaseSpec) -> float:
    """Return the read time after programming: `drift_s` in seconds, or `drift` like '1d' (one time per case)."""
    if "drift" in case.options:
        try:
            from ...simulators.report import parse_durations

            times = parse_durations(str(case.options["drift"]))
        except (ImportError, ValueError) as err:
            raise UserError(f"case {case.name!r}: cannot read drift {case.options['drift']!r} ({err}); "
                            "use drift_s: SECONDS") from None
        if len(times) != 1:
            raise UserError(f"case {case.name!r}: one drift time per case (make one case per time)")
        return float(times[0])
    value = case.options.get("drift_s", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UserError(f"case {case.name!r}: simulate option drift_s must be seconds >= 0, got {value!r}")
    return float(value)
