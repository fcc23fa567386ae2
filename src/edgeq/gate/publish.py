"""Where a gate run's outputs go: files the user asked for, the GitHub step summary, workflow annotations, and
the terminal views of `update` and `show`."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

from ..io import atomic_write_text
from .api import BaselineUpdate
from .baseline import Baseline
from .compare import GateOutcome
from .junit import to_junit_xml
from .metrics import FRACTION
from .report import format_record, github_annotations, to_json, to_markdown


def publish(outcome: GateOutcome, config_path: str | Path, json_path: str | Path | None = None,
            junit_path: str | Path | None = None, markdown_path: str | Path | None = None,
            environ: Mapping[str, str] | None = None) -> list[str]:
    """Write the requested outputs; append the markdown to $GITHUB_STEP_SUMMARY when set; return annotations.

    Annotations (`::error ...` lines) are returned, not printed, and only under GitHub Actions
    (GITHUB_ACTIONS=true), so the caller prints them on stdout where the runner picks them up.
    """
    environ = os.environ if environ is None else environ
    if json_path:
        atomic_write_text(json_path, to_json(outcome))
    if junit_path:
        atomic_write_text(junit_path, to_junit_xml(outcome, suite_name=Path(config_path).stem))
    markdown = to_markdown(outcome)
    if markdown_path:
        atomic_write_text(markdown_path, markdown)
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        # The runner gives each step its own summary file and expects appends (several steps may write to it).
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    if environ.get("GITHUB_ACTIONS") == "true":
        return github_annotations(outcome, str(config_path))
    return []


def render_update(update: BaselineUpdate, console) -> None:
    """Print what `update` changed: a table of added, removed and changed metrics, and environment changes."""
    from rich.table import Table

    target = update.config.baseline_path
    if update.old is None:
        console.print(f"new baseline: {len(update.new.cases)} case(s), "
                      f"{sum(len(c.metrics) for c in update.new.cases.values())} metric(s)", highlight=False)
    changed = update.changed
    table = Table(title=f"baseline diff ({target.name})")
    for column in ("case", "metric", "old", "new", "change"):
        table.add_column(column, justify="right" if column in ("old", "new") else "left")
    for change in changed:
        delta = ""
        if change.kind == "changed" and math.isfinite(change.old.value) and math.isfinite(change.new.value):
            diff = change.new.value - change.old.value
            delta = f" ({100 * diff:+.4g} pp)" if change.new.unit == FRACTION else f" ({diff:+.4g})"
        table.add_row(change.case, change.metric, format_record(change.old), format_record(change.new),
                      change.kind + delta)
    if changed:
        console.print(table)
    unchanged = len(update.changes) - len(changed)
    console.print(f"{len(changed)} metric(s) changed, {unchanged} unchanged", highlight=False)
    for line in update.environment_changes:
        console.print(f"[yellow]environment[/yellow]: {line}", highlight=False)
    if update.written:
        console.print(f"wrote {target}; review with `git diff {target.name}` and commit it", highlight=False)
    else:
        console.print(f"dry run: {target} not written", highlight=False)


def render_baseline(baseline: Baseline, path: Path, console) -> None:
    """Print a baseline: environment, then one row per case x metric."""
    from rich.table import Table

    env = baseline.environment
    packages = ", ".join(f"{k} {v}" for k, v in sorted(env.get("packages", {}).items()))
    console.print(f"baseline {path}", highlight=False)
    console.print(f"recorded with {packages}; python {env.get('python')} on {env.get('machine')}; "
                  f"CPU flags: {' '.join(env.get('cpu_flags', [])) or 'none tracked'}", highlight=False)
    table = Table()
    for column in ("case", "command", "metric", "value", "better", "seeds", "eval data"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for name, case in sorted(baseline.cases.items()):
        for metric, rec in sorted(case.metrics.items()):
            label = f"{metric} ({rec.unit})" if rec.unit else metric
            table.add_row(name, case.command, label, format_record(rec), rec.better,
                          ",".join(map(str, rec.seeds)), (case.eval_hash or "-").split(":")[-1][:12])
    console.print(table)
