"""What each gated metric means: which direction is better, its unit, whether it is deterministic, and the
default tolerance a regression must exceed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from ..errors import UserError


class Better(str, Enum):
    """Which way a metric improves; EXACT metrics (sizes, costs, MAC counts) must reproduce bit for bit."""

    HIGHER = "higher"
    LOWER = "lower"
    EXACT = "exact"
    INFO = "info"  # recorded and shown, never gated (e.g. wall time)


@dataclass(frozen=True)
class Tolerance:
    """How much a metric may worsen before it is a regression: max(abs, rel * |base|, k_se * standard error).

    Attributes:
        abs: absolute allowance in the metric's unit (a fraction for accuracies: 0.005 is 0.5 pp; dB for SQNR).
        rel: allowance as a fraction of |baseline value|.
        k_se: allowance in standard errors of the difference of means, from the baseline's recorded spread.
        min, max: absolute limits the current value must respect whatever the baseline says, so repeated
            `gate update`s cannot ratchet a metric down step by step (None: no limit).
    """

    abs: float = 0.0
    rel: float = 0.0
    k_se: float = 3.0
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        for field in ("min", "max"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value != value):
                raise UserError(f"tolerance {field} must be a number, got {value!r}; fix the gate config")
        for field in ("abs", "rel", "k_se"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or value != value:
                raise UserError(f"tolerance {field} must be a number >= 0, got {value!r}; fix the gate config")


@dataclass(frozen=True)
class MetricSpec:
    """A metric's meaning: direction, unit, and its default tolerance."""

    name: str
    better: Better
    unit: str
    tolerance: Tolerance = Tolerance()
    description: str = ""

    @property
    def deterministic(self) -> bool:
        """Return True when the metric must match the baseline exactly."""
        return self.better is Better.EXACT


FRACTION = "fraction"
"""The unit of accuracies and agreements everywhere in edgeq (JSON, sweeps, gate): 0.97, shown as 97% only when
rendered for people. Differences of fractions are shown in percentage points."""
_PP = Tolerance(abs=0.005)  # 0.5 percentage points: 2.5 images of the 500-image digits eval set
_DB = Tolerance(abs=0.5)
_EXACT = Tolerance(abs=0.0, rel=0.0, k_se=0.0)

# Every metric a built-in runner emits. Accuracies are fractions (tolerance abs 0.005 = 0.5 pp); drops are in pp.
CATALOGUE: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("accuracy", Better.HIGHER, FRACTION, _PP, "top-1 accuracy on the eval labels"),
        MetricSpec("accuracy_fp32", Better.HIGHER, FRACTION, _PP, "top-1 accuracy of the float model"),
        MetricSpec("accuracy_quant", Better.HIGHER, FRACTION, _PP, "top-1 accuracy of the quantized model"),
        MetricSpec("accuracy_drop_pp", Better.LOWER, "pp", Tolerance(abs=0.5), "float minus quantized accuracy"),
        MetricSpec("accuracy_std", Better.LOWER, FRACTION, Tolerance(abs=0.01), "spread of accuracy over repeats"),
        MetricSpec("agreement", Better.HIGHER, FRACTION, _PP, "top-1 agreement with the float model"),
        MetricSpec("runtime_agreement", Better.HIGHER, FRACTION, _PP,
                   "worst top-1 agreement of an onnxruntime mode with edgeq's reference simulation"),
        MetricSpec("sqnr_db", Better.HIGHER, "dB", _DB, "output SQNR against the float model"),
        MetricSpec("size_bytes", Better.EXACT, "B", _EXACT, "serialized model size"),
        MetricSpec("weight_bytes", Better.EXACT, "B", _EXACT, "bytes of weights in their stored formats"),
        MetricSpec("param_count", Better.EXACT, "", _EXACT, "number of weight and bias elements"),
        MetricSpec("macs", Better.EXACT, "", _EXACT, "multiply-accumulates per inference"),
        MetricSpec("energy_pj", Better.EXACT, "pJ", _EXACT, "modelled energy per inference"),
        MetricSpec("area_um2", Better.EXACT, "um^2", _EXACT, "modelled silicon area"),
        MetricSpec("latency_ns", Better.EXACT, "ns", _EXACT, "modelled latency per inference"),
        MetricSpec("tops_per_w", Better.EXACT, "TOPS/W", _EXACT, "modelled efficiency"),
        MetricSpec("quantized_nodes", Better.EXACT, "", _EXACT, "number of quantized operators"),
        MetricSpec("wall_s", Better.INFO, "s", _EXACT, "wall time of the case (not gated)"),
    )
}


def resolve_spec(name: str, declared: dict[str, MetricSpec], tolerance: Tolerance | None = None) -> MetricSpec:
    """Return the spec of a metric: a config declaration wins over the catalogue; a tolerance override applies."""
    spec = declared.get(name) or CATALOGUE.get(name)
    if spec is None:
        raise UserError(
            f"metric {name!r} is not one edgeq knows; declare it in the gate config under "
            f"`metrics: {{{name}: {{better: higher|lower|exact|info, unit: ...}}}}`"
        )
    return replace(spec, tolerance=tolerance) if tolerance is not None else spec
