"""The gate's three verbs as Python functions: run (compare with the baseline), update (re-record it), show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .baseline import Baseline, MetricRecord, load_baseline
from .compare import GateOutcome, compare
from .config import GateConfig, load_config
from .environment import environment_differences
from .measure import measure


def run_gate(config_path: str | Path, only: tuple[str, ...] = (), strict_environment: bool = False,
             on_case: Callable[[str, int, int], None] | None = None) -> GateOutcome:
    """Return the verdict of the config's cases (or only the named ones) against its committed baseline."""
    config = load_config(config_path)
    baseline = load_baseline(config.baseline_path)  # before measuring: a missing baseline fails fast
    measured = measure(config, only, on_case)
    return compare(config, baseline, measured, only=only, strict_environment=strict_environment)


@dataclass(frozen=True)
class MetricChange:
    """One line of a baseline diff: a metric added, removed or changed (old/new None where absent)."""

    case: str
    metric: str
    old: MetricRecord | None
    new: MetricRecord | None

    @property
    def kind(self) -> str:
        """Return 'added', 'removed', 'changed' or 'unchanged'."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "unchanged" if self.old == self.new else "changed"


@dataclass(frozen=True)
class BaselineUpdate:
    """The result of `update`: the new baseline, what changed against the old one, and where it was written."""

    config: GateConfig
    old: Baseline | None
    new: Baseline
    changes: tuple[MetricChange, ...]
    environment_changes: tuple[str, ...]
    written: bool

    @property
    def changed(self) -> tuple[MetricChange, ...]:
        """Return only the changes that are not 'unchanged'."""
        return tuple(c for c in self.changes if c.kind != "unchanged")


def update_baseline(config_path: str | Path, only: tuple[str, ...] = (), dry_run: bool = False,
                    on_case: Callable[[str, int, int], None] | None = None) -> BaselineUpdate:
    """Re-measure the cases and rewrite the baseline (only the named cases when given); return the diff.

    Refuses (UserError) while any case fails or lacks a requested metric, so a broken run never becomes the
    reference. With `only`, the other cases keep their recorded values; without it, cases no longer in the
    config are dropped.
    """
    config = load_config(config_path)
    old = load_baseline(config.baseline_path) if config.baseline_path.exists() else None
    measured = measure(config, only, on_case).to_baseline()
    cases = dict(old.cases) if (old is not None and only) else {}
    cases.update(measured.cases)
    new = Baseline(environment=measured.environment, cases=cases)
    changes = []
    old_cases = old.cases if old else {}
    for name in sorted(set(old_cases) | set(new.cases)):
        old_metrics = old_cases[name].metrics if name in old_cases else {}
        new_metrics = new.cases[name].metrics if name in new.cases else {}
        for metric in sorted(set(old_metrics) | set(new_metrics)):
            changes.append(MetricChange(name, metric, old_metrics.get(metric), new_metrics.get(metric)))
    env_changes = tuple(environment_differences(old.environment, new.environment)) if old else ()
    if not dry_run:
        new.write(config.baseline_path)
    return BaselineUpdate(config, old, new, tuple(changes), env_changes, written=not dry_run)


def resolve_baseline_path(path: str | Path) -> Path:
    """Return the baseline path for a gate config (YAML) or a baseline JSON path given directly."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return load_config(path).baseline_path
    if not path.exists():
        raise UserError(f"{path} does not exist; pass a gate config (.yaml) or a baseline (.json)")
    return path
