"""Human and machine outputs of a gate run: rich table, JSON, markdown summary and GitHub Actions annotations."""

from __future__ import annotations

import math

from ..io import dumps_json
from .baseline import SCHEMA_VERSION, MetricRecord
from .compare import GateOutcome, Row, Status
from .metrics import FRACTION

_STYLE = {Status.PASS: "green", Status.IMPROVED: "cyan", Status.NEW: "blue", Status.REGRESSION: "bold red",
          Status.MISMATCH: "bold red", Status.MISSING: "bold magenta", Status.NOT_COMPARABLE: "bold magenta",
          Status.ERROR: "bold magenta"}
_MARK = {Status.PASS: "✅", Status.IMPROVED: "⬆️", Status.NEW: "🆕", Status.REGRESSION: "❌",
         Status.MISMATCH: "❌", Status.MISSING: "⚠️", Status.NOT_COMPARABLE: "⚠️", Status.ERROR: "⚠️"}


def format_record(rec: MetricRecord | None) -> str:
    """Return 'value ± spread (n=N)' or just the value for single samples, '-' when absent."""
    if rec is None:
        return "-"
    if rec.better == "exact":  # every digit matters when the rule is "must match exactly"
        return f"{rec.value:.12g}"
    if rec.unit == FRACTION:  # stored as a fraction, read by people as a percentage
        text = f"{_num(100.0 * rec.value)}%"
        return text + (f" ± {_num(100.0 * rec.spread)} pp (n={rec.n})" if rec.n > 1 else "")
    text = _num(rec.value)
    if rec.n > 1:
        text += f" ± {_num(rec.spread)} (n={rec.n})"
    return text


def summary_line(outcome: GateOutcome) -> str:
    """Return the one-line verdict with counts."""
    failed = outcome.count(Status.REGRESSION, Status.MISMATCH)
    broken = outcome.count(Status.MISSING, Status.NOT_COMPARABLE, Status.ERROR)
    passed = outcome.count(Status.PASS, Status.IMPROVED, Status.NEW)
    return (f"edgeq gate {outcome.verdict} (exit {outcome.exit_code}): {passed} passed, {failed} regressed, "
            f"{broken} not comparable, of {len(outcome.rows)} checks in {sum(outcome.wall_s.values()):.1f} s")


def render_table(outcome: GateOutcome, console, only_failing: bool = False) -> None:
    """Print the verdict table (only rows that fail the run when `only_failing`), notes and environment changes."""
    from rich.table import Table

    table = Table(title="edgeq gate", show_lines=False)
    for column, justify in (("case", "left"), ("metric", "left"), ("baseline", "right"), ("current", "right"),
                            ("delta", "right"), ("allowed", "right"), ("status", "left")):
        table.add_column(column, justify=justify)
    for row in outcome.rows:
        if only_failing and not row.status.exit_code:
            continue
        style = _STYLE[row.status]
        table.add_row(row.case, _metric_label(row), format_record(row.base), format_record(row.current),
                      _delta(row), _allowed(row), f"[{style}]{row.status.value}[/{style}]")
    console.print(table)
    for row in outcome.rows:
        if row.status.exit_code:
            console.print(f"[{_STYLE[row.status]}]{row.case} / {row.metric}: {row.status.value}[/]: {row.reason}",
                          highlight=False)
    for case, notes in outcome.notes.items():
        for note in notes:
            console.print(f"[yellow]note[/yellow] {case}: {note}", highlight=False)
    for change in outcome.environment_changes:
        console.print(f"[yellow]environment differs from the baseline[/yellow]: {change}", highlight=False)
    console.print(summary_line(outcome), style="bold " + ("green" if outcome.exit_code == 0 else "red"),
                  highlight=False)


def to_json(outcome: GateOutcome) -> str:
    """Return the machine-readable result: verdict, counts, environment changes, notes and every row."""
    body = {
        "schema": "edgeq-gate-result",
        "schema_version": SCHEMA_VERSION,
        "exit_code": outcome.exit_code,
        "verdict": outcome.verdict,
        "counts": {status.value: outcome.count(status) for status in Status},
        "environment_changes": list(outcome.environment_changes),
        "notes": {case: list(notes) for case, notes in outcome.notes.items() if notes},
        "wall_s": {case: round(seconds, 3) for case, seconds in outcome.wall_s.items()},
        "rows": [row.to_dict() for row in outcome.rows],
    }
    return dumps_json(body, indent=2)


def to_markdown(outcome: GateOutcome) -> str:
    """Return a GitHub-flavoured markdown summary: verdict, failures first, then the full table."""
    lines = [f"## edgeq gate: {outcome.verdict}", "", summary_line(outcome), ""]
    failing = [row for row in outcome.rows if row.status.exit_code]
    if failing:
        lines += ["### What failed", ""]
        lines += [f"- {_MARK[r.status]} **{_md(r.case)}** / `{r.metric}`: {r.status.value}: {_md(r.reason)}"
                  for r in failing]
        lines.append("")
    lines += ["| case | metric | baseline | current | delta | allowed | status |",
              "|---|---|---:|---:|---:|---:|---|"]
    for r in outcome.rows:
        lines.append(f"| {_md(r.case)} | `{r.metric}`{(' (' + _unit_label(r.unit) + ')') if r.unit else ''} | "
                     f"{format_record(r.base)} | {format_record(r.current)} | {_delta(r)} | {_allowed(r)} | "
                     f"{_MARK[r.status]} {r.status.value} |")
    notes = [(case, note) for case, case_notes in outcome.notes.items() for note in case_notes]
    if notes or outcome.environment_changes:
        lines += ["", "### Notes", ""]
        lines += [f"- {_md(case)}: {_md(note)}" for case, note in notes]
        lines += [f"- environment differs from the baseline: {_md(change)}" for change in outcome.environment_changes]
    return "\n".join(lines) + "\n"


def github_annotations(outcome: GateOutcome, config_file: str) -> list[str]:
    """Return `::error`/`::warning` workflow commands, one per failing row and per environment change."""
    lines = []
    for row in outcome.rows:
        if row.status.exit_code:
            title = f"edgeq gate {row.status.value}: {row.case} / {row.metric}"
            message = f"{row.case} / {row.metric}: {row.reason} (baseline {format_record(row.base)}, " \
                      f"current {format_record(row.current)})"
            lines.append(f"::error file={_escape_property(config_file)},title={_escape_property(title)}::"
                         f"{_escape_data(message)}")
    for change in outcome.environment_changes:
        lines.append(f"::warning title=edgeq gate environment::{_escape_data('differs from the baseline: ' + change)}")
    return lines


def _metric_label(row: Row) -> str:
    return f"{row.metric} ({_unit_label(row.unit)})" if row.unit else row.metric


def _unit_label(unit: str) -> str:
    return "%" if unit == FRACTION else unit


def _delta(row: Row) -> str:
    delta = row.delta
    if delta is None:
        return "-"
    if math.isnan(delta):
        return "nan"
    if abs(delta) <= 1e-9 * max(1.0, abs(row.base.value)):  # rounding of the stored baseline, not a change
        return "0"
    if row.unit == FRACTION:
        return f"{100.0 * delta:+.4g} pp"
    return f"{delta:+.4g}"


def _allowed(row: Row) -> str:
    if row.allowed is None:
        return "-"
    if row.better == "exact":
        return "exact"
    if row.unit == FRACTION:
        return f"{100.0 * row.allowed:.3g} pp"
    return f"{row.allowed:.3g}"


def _num(value: float) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if float(value).is_integer() and abs(value) >= 1e4:
        return f"{int(value)}"
    return f"{value:.5g}"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
