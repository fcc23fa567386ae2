"""Turning a study into rows: one dict per trial with params, metrics, feasibility, Pareto membership, error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import TrialState

from .pareto import pareto_mask
from .spec import SweepSpec


@dataclass(frozen=True)
class SweepResults:
    """All trials of a sweep as rows, plus the counts `status` shows."""

    rows: list[dict]
    counts: dict[str, int]
    params: list[str]
    metrics: list[str]

    @property
    def complete(self) -> list[dict]:
        """Return the rows of completed trials (a sampler's repeat of a finished point not counted again)."""
        return [r for r in self.rows if r["state"] == "COMPLETE" and r["duplicate_of"] is None]

    @property
    def front(self) -> list[dict]:
        """Return the feasible Pareto-optimal rows, sorted by the first objective (best first)."""
        return [r for r in self.rows if r["pareto"]]


def collect(spec: SweepSpec, study: optuna.Study) -> SweepResults:
    """Return every trial of the study as a row; mark feasible and Pareto-optimal completed ones."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    params = [p.name for p in spec.space]
    metric_names: list[str] = []
    rows = []
    first_with_key: dict[str, int] = {}
    for t in trials:
        result = dict(t.user_attrs.get("result", {}))
        key = t.user_attrs.get("worker", {}).get("key")
        if t.state == TrialState.COMPLETE and key is not None and "duplicate_of" not in result:
            # Two workers that evaluated the same point at the same time: the later one counts as a repeat.
            if key in first_with_key:
                result["duplicate_of"] = first_with_key[key]
            else:
                first_with_key[key] = t.number
        metrics = result.get("metrics", {})
        for m in metrics:
            if m not in metric_names:
                metric_names.append(m)
        feasible = t.state == TrialState.COMPLETE and "duplicate_of" not in result and all(
            c.metric in metrics and c.violation(metrics) <= 0 for c in spec.constraints)
        error = t.user_attrs.get("error")
        if t.state == TrialState.FAIL and error is None:
            error = "worker lost: no heartbeat within the grace period"
        rows.append({
            "trial": t.number, "state": t.state.name, **{p: t.params.get(p) for p in params},
            **{f"metric:{m}": v for m, v in metrics.items()}, "feasible": feasible, "pareto": False,
            "seconds": result.get("seconds"), "cached": result.get("cached"), "error": error,
            "retried": t.number in retried, "attempt": t.user_attrs.get("attempt", 1),
            "duplicate_of": result.get("duplicate_of"),
            "worker": _worker(t), "started": _iso(t.datetime_start), "completed": _iso(t.datetime_complete),
        })
    feasible = [r for r in rows if r["feasible"]]
    if feasible:
        values = np.array([[r[f"metric:{o.metric}"] for o in spec.objectives] for r in feasible])
        for r, on_front in zip(feasible, pareto_mask(values, spec.directions)):
            r["pareto"] = bool(on_front)
    counts = {s.name: 0 for s in (TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING)}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    counts["FAIL_RETRIED"] = len(retried)
    counts["FEASIBLE"] = len(feasible)
    counts["PARETO"] = sum(r["pareto"] for r in rows)
    counts["CACHED"] = sum(1 for r in rows if r["cached"] and r["duplicate_of"] is None)
    counts["DUPLICATE"] = sum(1 for r in rows if r["duplicate_of"] is not None)
    return SweepResults(rows=rows, counts=counts, params=params, metrics=metric_names)


def front_sorted(spec: SweepSpec, results: SweepResults) -> list[dict]:
    """Return the Pareto rows sorted by the first objective, best first."""
    first = spec.objectives[0]
    return sorted(results.front, key=lambda r: r[f"metric:{first.metric}"], reverse=first.direction == "maximize")


def _worker(t) -> str | None:
    who = t.user_attrs.get("worker")
    return f"{who['host']}:{who['pid']}" if who else None


def _iso(dt) -> str | None:
    return dt.isoformat(timespec="milliseconds") if dt is not None else None
