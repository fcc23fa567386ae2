"""The gate's verdict: each metric of each case against the baseline, by the rule

    regression  <=>  worsening > max(abs, rel * |base|, k_se * SE),   SE = spread_base * sqrt(1/n_base + 1/n_now)

(the standard error of a difference of two means, with the baseline's spread standing for both, as it would under
"nothing changed"). Deterministic metrics must match exactly; anything missing or not comparable is never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from .baseline import Baseline, MetricRecord
from .config import GateConfig
from .environment import environment_differences
from .measure import Measurements
from .metrics import FRACTION, Better, MetricSpec


class Status(str, Enum):
    """A row's verdict; `exit_code` says what it does to the run."""

    PASS = "pass"
    IMPROVED = "improved"
    NEW = "new"
    REGRESSION = "regression"
    MISMATCH = "mismatch"
    MISSING = "missing"
    NOT_COMPARABLE = "not comparable"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        """Return 0 for passing verdicts, 1 for regressions, 2 for rows that could not be compared."""
        if self in (Status.REGRESSION, Status.MISMATCH):
            return 1
        if self in (Status.MISSING, Status.NOT_COMPARABLE, Status.ERROR):
            return 2
        return 0


@dataclass(frozen=True)
class Row:
    """One case x metric verdict with the numbers behind it."""

    case: str
    metric: str
    status: Status
    unit: str = ""
    better: str = ""
    base: MetricRecord | None = None
    current: MetricRecord | None = None
    allowed: float | None = None
    reason: str = ""

    @property
    def delta(self) -> float | None:
        """Return current minus baseline value (None when either is absent)."""
        if self.base is None or self.current is None:
            return None
        return self.current.value - self.base.value

    def to_dict(self) -> dict:
        """Return the JSON form."""
        return {"allowed": self.allowed, "base": self.base.to_dict() if self.base else None, "better": self.better,
                "case": self.case, "current": self.current.to_dict() if self.current else None, "delta": self.delta,
                "metric": self.metric, "reason": self.reason, "status": self.status.value, "unit": self.unit}


@dataclass(frozen=True)
class GateOutcome:
    """Every row of one gate run, environment differences, notes per case, and the exit code."""

    rows: tuple[Row, ...]
    environment_changes: tuple[str, ...]
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)
    strict_environment: bool = False

    @property
    def exit_code(self) -> int:
        """Return 2 if anything could not be compared, else 1 on any regression, else 0."""
        code = max((row.status.exit_code for row in self.rows), default=2)
        if self.strict_environment and self.environment_changes:
            code = 2
        return code

    def count(self, *statuses: Status) -> int:
        """Return how many rows have one of these statuses."""
        return sum(row.status in statuses for row in self.rows)

    @property
    def verdict(self) -> str:
        """Return PASSED, REGRESSED or NOT COMPARABLE."""
        return {0: "PASSED", 1: "REGRESSED", 2: "NOT COMPARABLE"}[self.exit_code]


def allowed_worsening(spec: MetricSpec, base: MetricRecord, current: MetricRecord) -> float:
    """Return how far the metric may worsen: max(abs, rel * |base|, k_se * SE of the difference of means)."""
    tol = spec.tolerance
    n_now = max(current.n, 1)
    se = base.spread * math.sqrt(1.0 / max(base.n, 1) + 1.0 / n_now) if base.n > 1 else 0.0
    return max(tol.abs, tol.rel * abs(base.value), tol.k_se * se)


def judge_metric(case: str, spec: MetricSpec, base: MetricRecord, current: MetricRecord) -> Row:
    """Return the verdict for one metric present in both baseline and current run."""
    common = dict(case=case, metric=spec.name, unit=spec.unit, better=spec.better.value, base=base, current=current)
    if spec.better is Better.EXACT:
        if current.value == base.value:
            return Row(status=Status.PASS, allowed=0.0, reason="matches exactly", **common)
        return Row(status=Status.MISMATCH, allowed=0.0,
                   reason=f"deterministic metric changed: {base.value!r} -> {current.value!r}", **common)
    if math.isnan(current.value):
        return Row(status=Status.REGRESSION, reason="current value is NaN", **common)
    allowed = allowed_worsening(spec, base, current)
    limit = _limit_violation(spec, current.value)
    if limit:
        return Row(status=Status.REGRESSION, allowed=allowed, reason=limit, **common)
    if current.value == base.value:  # also covers inf == inf (a lossless SQNR), where the difference is NaN
        return Row(status=Status.PASS, allowed=allowed, reason="unchanged", **common)
    # A difference of fractions is shown in percentage points (the only place accuracies meet people).
    if spec.unit == FRACTION:
        unit, shown = "pp", 100.0
    else:  # a user-declared "%" metric: its differences are percentage points too
        unit, shown = ("pp" if spec.unit == "%" else spec.unit), 1.0
    delta = current.value - base.value
    worsening = -delta if spec.better is Better.HIGHER else delta
    if worsening > allowed:
        return Row(status=Status.REGRESSION, allowed=allowed,
                   reason=f"worse by {_fmt(shown * worsening)} {unit}, more than the {_fmt(shown * allowed)} {unit} "
                          "allowed", **common)
    if -worsening > allowed:
        return Row(status=Status.IMPROVED, allowed=allowed,
                   reason=f"better by {_fmt(-shown * worsening)} {unit}; `edgeq gate update` to lock it in", **common)
    return Row(status=Status.PASS, allowed=allowed, reason="within tolerance", **common)


def _limit_violation(spec: MetricSpec, value: float) -> str:
    """Return why value breaks the metric's absolute min/max limit ('' when it does not)."""
    tol = spec.tolerance
    scale, unit = (100.0, "%") if spec.unit == FRACTION else (1.0, f" {spec.unit}" if spec.unit else "")
    if tol.min is not None and value < tol.min:
        return f"{_fmt(scale * value)}{unit} is below the absolute limit min {_fmt(scale * tol.min)}{unit}"
    if tol.max is not None and value > tol.max:
        return f"{_fmt(scale * value)}{unit} is above the absolute limit max {_fmt(scale * tol.max)}{unit}"
    return ""


def compare(config: GateConfig, baseline: Baseline, measured: Measurements, only: tuple[str, ...] = (),
            strict_environment: bool = False) -> GateOutcome:
    """Return the verdict of every case x metric of `measured` against `baseline`."""
    rows: list[Row] = []
    notes: dict[str, tuple[str, ...]] = {}
    measured_names = {c.name for c in measured.cases}
    for case_result in measured.cases:
        name = case_result.name
        base_case = baseline.cases.get(name)
        if case_result.record is None:
            metrics = sorted(base_case.metrics) if base_case else ["*"]
            rows += [Row(name, m, Status.ERROR, reason=f"case failed: {case_result.error}") for m in metrics]
            continue
        current = case_result.record
        if base_case is None:
            rows += [Row(name, m, Status.MISSING, rec.unit, rec.better, current=rec,
                         reason="case is not in the baseline; record it with `edgeq gate update`")
                     for m, rec in sorted(current.metrics.items())]
            continue
        case_spec = config.case(name)
        notes[name] = tuple(_case_notes(base_case, current))
        if base_case.eval_hash != current.eval_hash:
            reason = (f"eval data changed ({_short(base_case.eval_hash)} -> {_short(current.eval_hash)}); "
                      "results on other data are not comparable: `edgeq gate update` if intended")
            rows += [Row(name, m, Status.NOT_COMPARABLE, rec.unit, rec.better, base=rec,
                         current=current.metrics.get(m), reason=reason) for m, rec in sorted(base_case.metrics.items())]
            continue
        for metric, base_rec in sorted(base_case.metrics.items()):
            cur_rec = current.metrics.get(metric)
            if cur_rec is None:
                why = ("the run did not produce it" if metric in case_result.missing or case_spec.metrics is None
                       or metric in case_spec.metrics else "the config no longer gates it")
                rows.append(Row(name, metric, Status.MISSING, base_rec.unit, base_rec.better, base=base_rec,
                                reason=f"metric in the baseline but missing now: {why}"))
                continue
            rows.append(judge_metric(name, config.spec_for(case_spec, metric), base_rec, cur_rec))
        for metric in case_result.missing:
            if metric not in base_case.metrics:
                rows.append(Row(name, metric, Status.MISSING,
                                reason="the config gates it but the run did not produce it"))
        for metric, cur_rec in sorted(current.metrics.items()):
            if metric in base_case.metrics:
                continue
            if case_spec.metrics is not None and metric in case_spec.metrics:  # asked for by name: must be judged
                rows.append(Row(name, metric, Status.MISSING, cur_rec.unit, cur_rec.better, current=cur_rec,
                                reason="the config gates it but the baseline lacks it; `edgeq gate update`"))
            else:
                rows.append(Row(name, metric, Status.NEW, cur_rec.unit, cur_rec.better, current=cur_rec,
                                reason="not in the baseline (not gated); `edgeq gate update` to gate it"))
    if not only:
        for name, base_case in sorted(baseline.cases.items()):
            if name not in measured_names:
                rows += [Row(name, m, Status.MISSING, rec.unit, rec.better, base=rec,
                             reason="case is in the baseline but not in the config")
                         for m, rec in sorted(base_case.metrics.items())]
    env_changes = tuple(environment_differences(baseline.environment, measured.environment))
    return GateOutcome(rows=tuple(rows), environment_changes=env_changes, notes=notes,
                       wall_s={c.name: c.wall_s for c in measured.cases}, strict_environment=strict_environment)


def _case_notes(base, current) -> list[str]:
    notes = []
    if base.command != current.command:
        notes.append(f"command changed: {base.command} -> {current.command}")
    if base.options != current.options:
        keys = sorted(set(base.options) | set(current.options))
        changed = [f"{k}: {base.options.get(k)!r} -> {current.options.get(k)!r}" for k in keys
                   if base.options.get(k) != current.options.get(k)]
        notes.append("options changed: " + ", ".join(changed))
    if base.model_hash != current.model_hash:
        notes.append(f"model changed ({_short(base.model_hash)} -> {_short(current.model_hash)})")
    if base.calib_hash != current.calib_hash:
        notes.append(f"calibration data changed ({_short(base.calib_hash)} -> {_short(current.calib_hash)})")
    if base.seeds != current.seeds:
        notes.append(f"seeds changed: {list(base.seeds)} -> {list(current.seeds)}")
    return notes


def _short(digest: str | None) -> str:
    return "none" if digest is None else digest.split(":")[-1][:12]


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.4g}"
