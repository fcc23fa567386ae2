"""The sweep report: Pareto table, every trial as JSON and CSV, PNG plots, and one self-contained HTML page."""

from __future__ import annotations

import base64
import csv
import html
import io
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..io import check_distinct_paths, dumps_json, write_files
from .pareto import hypervolume_history, pareto_mask
from .results import SweepResults, front_sorted
from .spec import SweepSpec


@dataclass(frozen=True)
class ReportFiles:
    """Paths of everything `write_report` wrote."""

    folder: Path
    files: tuple[Path, ...]


def write_report(spec: SweepSpec, results: SweepResults, folder: Path, color_by: str | None = None) -> ReportFiles:
    """Write trials.json, trials.csv, pareto.csv, pareto.md, PNG plots and report.html into folder.

    Every file is rendered first and then written as one group, so a failure leaves the previous report whole.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the report folder {folder} ({err.strerror}); pass --out-dir to write the "
                        "report somewhere writable") from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"report folder {folder} is not writable; pass --out-dir to write the report elsewhere")
    color_by = color_by or spec.color_by or _default_color(spec)
    files: dict[str, bytes | str] = {}

    def put(name: str, data: bytes | str) -> None:
        files[name] = data

    front = front_sorted(spec, results)
    summary = {
        "sweep": spec.name, "objectives": [{"metric": o.metric, "direction": o.direction} for o in spec.objectives],
        "constraints": [str(c) for c in spec.constraints], "counts": results.counts,
        "pareto": [_json_row(r) for r in front], "trials": [_json_row(r) for r in results.rows],
    }
    put("trials.json", dumps_json(summary, indent=1))
    put("trials.csv", _csv(results.rows, results.params, results.metrics))
    put("pareto.csv", _csv(front, results.params, results.metrics))
    put("pareto.md", pareto_markdown(spec, results))
    images = {}
    for name, png in plot_pngs(spec, results, color_by).items():
        put(name, png)
        images[name] = png
    put("report.html", _html(spec, results, front, images))
    paths = {name: folder / name for name in files}
    check_distinct_paths(paths, spec_inputs(spec))
    write_files([(paths[name], data) for name, data in files.items()])
    return ReportFiles(folder, tuple(paths.values()))


def spec_inputs(spec: SweepSpec) -> dict[str, Path]:
    """Return the files a sweep reads (spec, models, data, calib), keyed by what they are, for output checks."""
    inputs = {"the spec": spec.path, "data": spec.data, "calib": spec.calib}
    inputs.update({f"model {m.name}": m for m in spec.models})
    return {k: v for k, v in inputs.items() if v is not None}


def pareto_markdown(spec: SweepSpec, results: SweepResults, limit: int | None = None) -> str:
    """Return the Pareto front as a Markdown table (params that vary, then objectives)."""
    front = front_sorted(spec, results)[:limit]
    params = [p for p in results.params if any(r.get(p) is not None for r in front)]
    objectives = [o.metric for o in spec.objectives]
    head = ["trial", *params, *objectives]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in front:
        cells = [str(r["trial"]), *(_cell(r.get(p)) for p in params), *(_cell(r[f"metric:{m}"]) for m in objectives)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_pngs(spec: SweepSpec, results: SweepResults, color_by: str | None) -> dict[str, bytes]:
    """Return PNGs: the first objective against each other one (front drawn, coloured by a parameter), HV history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    rows = results.complete
    if not rows:
        return out
    first = spec.objectives[0]
    feasible = [r for r in rows if r["feasible"]]
    for other in spec.objectives[1:]:
        x, y = f"metric:{other.metric}", f"metric:{first.metric}"
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
        _scatter(ax, rows, other.metric, first.metric, color_by)
        if feasible:
            # The front of this pair of objectives (the full front may need a third axis to see).
            pair = np.array([[r[y], r[x]] for r in feasible])
            on = pareto_mask(pair, [first.direction, other.direction])
            front2d = sorted((r for r, keep in zip(feasible, on) if keep), key=lambda r: r[x])
            ax.step([r[x] for r in front2d], [r[y] for r in front2d], where="post", color="black", lw=1.2,
                    label=f"front of {first.metric} vs {other.metric}", zorder=3)
            full = results.front
            ax.scatter([r[x] for r in full], [r[y] for r in full], s=60, facecolors="none", edgecolors="black",
                       zorder=4, label="Pareto-optimal (all objectives)")
            ys = [r[y] for r in feasible]
            pad = 0.08 * (max(ys) - min(ys) or abs(max(ys)) or 1.0)
            ax.set_ylim(min(ys) - pad, max(ys) + pad)  # feasible points fill the plot; outliers are clipped
        ax.set_xlabel(f"{other.metric} ({_arrow(other.direction)})")
        ax.set_ylabel(f"{first.metric} ({_arrow(first.direction)})")
        ax.set_title(f"{spec.name}: {first.metric} vs {other.metric}")
        ax.legend(fontsize=7, loc="best")
        out[f"{first.metric}_vs_{other.metric}.png"] = _png(fig, plt)
    if len(spec.objectives) > 1:
        feasible = sorted(feasible, key=lambda r: r["completed"] or "")
        if feasible:
            values = np.array([[r[f"metric:{o.metric}"] for o in spec.objectives] for r in feasible])
            hv = hypervolume_history(values, spec.directions)
            t0 = _time(feasible[0]["started"] or feasible[0]["completed"])
            seconds = [(_time(r["completed"]) - t0).total_seconds() for r in feasible]
            fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
            ax.plot(seconds, hv, drawstyle="steps-post")
            ax.set_xlabel("seconds since the first trial")
            ax.set_ylabel("hypervolume (objectives scaled to [0,1], ref 1.1)")
            ax.set_title(f"{spec.name}: hypervolume of feasible trials over time")
            out["hypervolume.png"] = _png(fig, plt)
    return out


def _scatter(ax, rows, x: str, y: str, color_by: str | None) -> None:
    feasible = [r for r in rows if r["feasible"]]
    infeasible = [r for r in rows if not r["feasible"]]
    if infeasible:
        ax.scatter([r[f"metric:{x}"] for r in infeasible], [r[f"metric:{y}"] for r in infeasible], s=12,
                   marker="x", color="0.7", label=f"violates a constraint ({len(infeasible)})")
    if not color_by:
        ax.scatter([r[f"metric:{x}"] for r in feasible], [r[f"metric:{y}"] for r in feasible], s=16, label="trials")
        return
    groups: dict[str, list] = {}
    for r in feasible:
        groups.setdefault(_cell(r.get(color_by)) or "n/a", []).append(r)  # n/a: a conditional parameter unset
    numeric = all(isinstance(r.get(color_by), (int, float)) for r in feasible) and len(groups) > 8
    if numeric:
        sc = ax.scatter([r[f"metric:{x}"] for r in feasible], [r[f"metric:{y}"] for r in feasible], s=16,
                        c=[r[color_by] for r in feasible], cmap="viridis")
        ax.figure.colorbar(sc, ax=ax, label=color_by)
        return
    for label, group in sorted(groups.items()):
        ax.scatter([r[f"metric:{x}"] for r in group], [r[f"metric:{y}"] for r in group], s=16,
                   label=f"{color_by}={label}")


def _html(spec: SweepSpec, results: SweepResults, front: list[dict], images: dict[str, bytes]) -> str:
    counts = ", ".join(f"{k.lower()} {v}" for k, v in results.counts.items() if v)
    objectives = ", ".join(f"{o.metric} ({o.direction})" for o in spec.objectives)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>edgeq sweep {html.escape(spec.name)}</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f0f0f0}tr.front{background:#eef7ee}img{max-width:48%;margin:4px}"
        "td.err{text-align:left;color:#a00}",
        "</style></head><body>",
        f"<h1>edgeq sweep: {html.escape(spec.name)}</h1>",
        f"<p>Objectives: {html.escape(objectives)}. Constraints: "
        f"{html.escape(', '.join(map(str, spec.constraints)) or 'none')}. Trials: {html.escape(counts)}.</p>",
        f"<h2>Pareto front ({len(front)} points)</h2>", _html_table(front, results, spec, errors=False),
        "<h2>Plots</h2>",
        *(f"<img alt='{html.escape(n)}' src='data:image/png;base64,{base64.b64encode(b).decode()}'>"
          for n, b in images.items()),
        "<h2>All trials</h2>", _html_table(results.rows, results, spec, errors=True),
        "</body></html>",
    ]
    return "\n".join(parts)


def _html_table(rows: list[dict], results: SweepResults, spec: SweepSpec, errors: bool) -> str:
    metrics = [o.metric for o in spec.objectives] + [m for m in results.metrics
                                                     if m not in {o.metric for o in spec.objectives}]
    head = ["trial", "state", *results.params, *metrics] + (["error"] if errors else [])
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = [r["trial"], r["state"], *(r.get(p) for p in results.params),
                 *(r.get(f"metric:{m}") for m in metrics)]
        tds = "".join(f"<td>{html.escape(_cell(c))}</td>" for c in cells)
        if errors:
            tds += f"<td class='err'>{html.escape(r['error'] or '')}</td>"
        out.append(f"<tr class='{'front' if r['pareto'] else ''}'>{tds}</tr>")
    return "\n".join(out) + "</table>"


def _csv(rows: list[dict], params: list[str], metrics: list[str]) -> str:
    buf = io.StringIO()
    cols = ["trial", "state", *params, *metrics, "feasible", "pareto", "seconds", "cached", "duplicate_of", "attempt",
            "retried", "worker", "started", "completed", "error"]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for r in rows:
        writer.writerow([_cell(r.get(f"metric:{c}", r.get(c))) if c in metrics else _cell(r.get(c)) for c in cols])
    return buf.getvalue()


def _json_row(r: dict) -> dict:
    metrics = {k[7:]: v for k, v in r.items() if k.startswith("metric:")}
    return {**{k: v for k, v in r.items() if not k.startswith("metric:")}, "metrics": metrics}


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _png(fig, plt) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    # No timestamp in the PNG metadata, so the same results give the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _arrow(direction: str) -> str:
    return "higher is better" if direction == "maximize" else "lower is better"


def _default_color(spec: SweepSpec) -> str | None:
    for name in ("target", "weights", "fmt", "model"):
        if any(p.name == name for p in spec.space):
            return name
    return spec.space[0].name if spec.space else None


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso)
