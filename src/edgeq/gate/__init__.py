"""`edgeq gate`: a CI regression gate that re-runs quantize/simulate/cost cases and fails the build when a metric
worsens beyond max(abs tol, rel tol x |base|, k x standard error), a deterministic metric changes, or anything is
missing or not comparable. See docs/gate.md."""

from .api import BaselineUpdate, MetricChange, resolve_baseline_path, run_gate, update_baseline
from .baseline import Baseline, CaseRecord, MetricRecord, load_baseline
from .compare import GateOutcome, Row, Status, allowed_worsening, compare, judge_metric
from .config import CaseSpec, GateConfig, load_config
from .measure import Measurements, measure
from .metrics import CATALOGUE, Better, MetricSpec, Tolerance
from .runners import get_runner, register_runner, runner_names

__all__ = [
    "Baseline", "BaselineUpdate", "Better", "CATALOGUE", "CaseRecord", "CaseSpec", "GateConfig", "GateOutcome",
    "Measurements", "MetricChange", "MetricRecord", "MetricSpec", "Row", "Status", "Tolerance", "allowed_worsening",
    "compare", "get_runner", "judge_metric", "load_baseline", "load_config", "measure", "register_runner",
    "resolve_baseline_path", "run_gate", "runner_names", "update_baseline",
]
