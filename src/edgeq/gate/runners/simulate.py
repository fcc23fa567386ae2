"""`simulate`: analog in-memory-computing simulation of an ONNX model (`edgeq.simulators.simulate_onnx`), gated on
accuracy and output SQNR. Each Monte-Carlo repeat is one sample, so the baseline's spread is the device noise and a
regression must exceed k standard errors of it."""

from __future__ import annotations

from ...errors import UserError
from ..config import CaseSpec
from ._inputs import require


def simulate_api():
    """Return edgeq.simulators.simulate_onnx, or raise UserError when this edgeq build does not have it."""
    try:
        from ...simulators import simulate_onnx
    except ImportError:
        raise UserError("this edgeq has no edgeq.simulators.simulate_onnx; install an edgeq with the analog "
                        "simulator") from None
    return simulate_onnx


def metrics_from_simulation(result: dict) -> dict[str, list[float]]:
    """Return accuracy (%) and sqnr_db samples from a simulation result dict.

    Takes per-repeat samples where the result lists them (`repeats: [{accuracy, sqnr_db}, ...]` or
    `accuracy_samples`/`sqnr_db_samples`), else the mean; accuracies given as fractions are turned into percent.
    """
    samples: dict[str, list[float]] = {}
    for row in result.get("repeats") or []:
        for key in ("accuracy", "sqnr_db"):
            if isinstance(row, dict) and row.get(key) is not None:
                samples.setdefault(key, []).append(float(row[key]))
    for key in ("accuracy", "sqnr_db"):
        if key not in samples:
            values = result.get(f"{key}_samples")
            if values is None and result.get(key) is not None:
                values = [result[key]]
            if values is not None:
                samples[key] = [float(v) for v in values]
    if "accuracy" in samples and max(samples["accuracy"]) <= 1.0:
        samples["accuracy"] = [100.0 * v for v in samples["accuracy"]]
    return samples


def run_simulate(case: CaseSpec, seed: int) -> dict[str, list[float]]:
    """Return the per-repeat accuracy and SQNR samples of the case's model on the simulated hardware."""
    simulate_onnx = simulate_api()
    model = require(case.model, "model", case.name, "simulate")
    eval_path = require(case.eval, "eval", case.name, "simulate")
    try:
        result = simulate_onnx(str(model), eval=str(eval_path), seed=seed, **case.options)
    except TypeError as err:
        raise UserError(f"case {case.name!r}: simulate does not take these options ({err})") from None
    return metrics_from_simulation(result.to_dict() if hasattr(result, "to_dict") else dict(result))
