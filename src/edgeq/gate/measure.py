"""Run a config's cases once per seed and pool the samples into per-metric statistics."""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import UserError
from .baseline import Baseline, CaseRecord, MetricRecord, round_value
from .config import CaseSpec, GateConfig
from .environment import data_hash, environment_fingerprint, file_hash
from .runners import get_runner


@dataclass(frozen=True)
class CaseMeasurement:
    """What one case measured: its record (None when it failed), requested-but-absent metrics, and any error."""

    name: str
    record: CaseRecord | None
    missing: tuple[str, ...] = ()
    error: str | None = None
    wall_s: float = 0.0


@dataclass(frozen=True)
class Measurements:
    """All cases of one run, in config order, and the environment they ran in."""

    cases: tuple[CaseMeasurement, ...]
    environment: dict = field(default_factory=dict)

    def to_baseline(self) -> Baseline:
        """Return the baseline these measurements make (UserError if any case failed or lacked a metric)."""
        failed = [c for c in self.cases if c.record is None or c.missing]
        if failed:
            lines = [f"{c.name}: {c.error or 'missing ' + ', '.join(c.missing)}" for c in failed]
            raise UserError("cannot record a baseline while cases fail: " + "; ".join(lines))
        return Baseline(environment=self.environment, cases={c.name: c.record for c in self.cases})


def measure(config: GateConfig, only: tuple[str, ...] = (),
            on_case: Callable[[str, int, int], None] | None = None) -> Measurements:
    """Return the measurements of every case (or only the named ones); `on_case(name, i, total)` reports progress."""
    cases = [config.case(name) for name in only] if only else list(config.cases)
    results = []
    for index, case in enumerate(cases):
        if on_case is not None:
            on_case(case.name, index, len(cases))
        results.append(measure_case(config, case))
    return Measurements(cases=tuple(results), environment=environment_fingerprint())


def measure_case(config: GateConfig, case: CaseSpec) -> CaseMeasurement:
    """Return one case's pooled metrics; a failing runner becomes an error entry, never an exception."""
    start = time.perf_counter()
    try:
        runner = get_runner(case.command)
        samples: dict[str, list[float]] = {}
        for seed in case.seeds:
            produced = runner(case, seed)
            if not isinstance(produced, dict):
                raise UserError(f"runner {case.command!r} returned {type(produced).__name__}, not a dict")
            for metric, values in produced.items():
                samples.setdefault(metric, []).extend(_as_samples(values, case.name, metric))
        wanted = case.metrics if case.metrics is not None else tuple(sorted(samples))
        missing = tuple(m for m in wanted if m not in samples)
        metrics = {}
        for metric in wanted:
            if metric in samples:
                spec = config.spec_for(case, metric)
                if spec.better.value == "info":
                    continue
                metrics[metric] = _pool(samples[metric], case.seeds, spec.better.value, spec.unit)
        record = CaseRecord(
            command=case.command, options=case.options, model=case.model.name if case.model else None,
            model_hash=file_hash(case.model) if case.model and case.model.is_file() else None,
            calib_hash=data_hash(case.calib) if case.calib else None,
            eval_hash=data_hash(case.eval) if case.eval else None, seeds=case.seeds, metrics=metrics)
        return CaseMeasurement(case.name, record, missing, None, time.perf_counter() - start)
    except UserError as err:
        return CaseMeasurement(case.name, None, (), str(err), time.perf_counter() - start)
    except Exception as err:  # the code under test crashed: report it as this case's error, keep gating the rest
        where = traceback.extract_tb(err.__traceback__)[-1]
        message = f"{type(err).__name__}: {err} (at {where.filename}:{where.lineno})"
        return CaseMeasurement(case.name, None, (), message, time.perf_counter() - start)


def _as_samples(values, case: str, metric: str) -> list[float]:
    items = values if isinstance(values, (list, tuple, np.ndarray)) else [values]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float, np.integer, np.floating)):
            raise UserError(f"case {case!r}: metric {metric!r} is {item!r}, not a number")
        out.append(float(item))
    if not out:
        raise UserError(f"case {case!r}: metric {metric!r} has no samples")
    return out


def _pool(samples: list[float], seeds: tuple[int, ...], better: str, unit: str) -> MetricRecord:
    """Return mean, count and sample standard deviation (ddof=1; 0 for a single sample) of the samples."""
    array = np.asarray(samples, dtype=np.float64)
    spread = float(array.std(ddof=1)) if array.size > 1 and np.all(np.isfinite(array)) else 0.0
    value = float(array.mean()) if array.size > 1 else float(array[0])
    if better == "exact" and array.size > 1 and not np.all(array == array[0]):
        value = math.nan  # a "deterministic" metric that varies across seeds can never match
    # Rounded as the baseline stores them, so an exact metric compares equal to its own stored value.
    return MetricRecord(value=float(round_value(value)), n=int(array.size), spread=float(round_value(spread)),
                        seeds=seeds, better=better, unit=unit)
