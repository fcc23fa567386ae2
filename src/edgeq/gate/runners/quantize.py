"""`quantize`: post-training quantization with `edgeq.quantize`, gated on what its report measured in onnxruntime
(default session options): accuracy, drop, agreement and SQNR against FP32, agreement of every ORT mode with edgeq's
reference simulation, and the quantized model's size (exact)."""

from __future__ import annotations

import math

from ...errors import ConfigError
from ...ptq.config import QuantConfig
from ..config import CaseSpec
from ._inputs import require

# report key -> gate metric; both use fractions for accuracies and agreement, pp for the drop.
_FROM_REPORT = {
    "accuracy_fp32": "accuracy_fp32",
    "accuracy_quant": "accuracy_quant",
    "accuracy_drop_pp": "accuracy_drop_pp",
    "agreement": "agreement",
    "sqnr_db": "sqnr_db",
    "size_bytes_quant": "size_bytes",
}


def metrics_from_report(report: dict) -> dict[str, float]:
    """Return the gate metrics found in a QuantReport dict (missing or null entries are left out)."""
    metrics = {}
    for key, name in _FROM_REPORT.items():
        value = _number(report.get(key))
        if value is not None:
            metrics[name] = value
    agreements = [_number(mode.get("agreement")) for mode in (report.get("fidelity") or {}).values()]
    agreements = [a for a in agreements if a is not None]
    if agreements:  # the worst ORT mode: a runtime that stops following the reference is a regression
        metrics["runtime_agreement"] = min(agreements)
    return metrics


def run_quantize(case: CaseSpec, seed: int) -> dict[str, float]:
    """Return the quantize report's metrics for the case's model, data and options."""
    from ... import quantize

    model = require(case.model, "model", case.name, "quantize")
    calib = require(case.calib, "calib", case.name, "quantize") if not case.options.get("calib_random") else None
    options = {k: v for k, v in case.options.items() if k not in ("progress", "calib_random")}
    try:
        config = QuantConfig.from_dict({**options, "seed": seed})
    except ConfigError as err:
        raise ConfigError(f"case {case.name!r}: {err}") from None
    result = quantize(str(model), config, calib=str(calib) if calib else None, eval=str(case.eval) if case.eval else None,
                      calib_random=bool(case.options.get("calib_random")), progress=False)
    return metrics_from_report(result.report.to_dict())


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):  # the report writes non-finite floats as "inf" / "-inf"
        try:
            return float(value)
        except ValueError:
            return None
    return float(value) if isinstance(value, (int, float)) and not math.isnan(value) else None
