"""Render docs/realmodels.md (table and plot) and the ratios JSON from benchmarks/results/realmodels.json only."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EDGEQ = {"int8": "edgeq_int8", "fp8_e4m3": "edgeq_fp8"}


def _fmt(x, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _status(r: dict) -> str:
    if r["rc"] == 0:
        if r.get("eval_error") and r.get("sqnr_db") is None:
            return "output fails in ORT"
        return "ok, nothing quantized" if r.get("quant_nodes") == 0 else "ok"
    return "skip" if r["rc"] == "skipped" else ("timeout" if r["rc"] == "timeout" else f"exit {r['rc']}")


def table(results: dict) -> str:
    """Return a markdown table, one row per (model, tool)."""
    head = ("| model | tool | fmt | status | SQNR dB (default) | SQNR dB (opt off) | task metric | task (opt off) "
            "| time s | peak RSS MB | Q/DQ nodes | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for r in results["results"]:
        note = (r.get("error") or r.get("eval_error") or "").replace("|", "/").replace("\n", " ")[:90]
        rows.append(f"| {r['model']} | {r['tool']} | {r['fmt']} | {_status(r)} | {_fmt(r.get('sqnr_db'))} "
                    f"| {_fmt(r.get('sqnr_db_noopt'))} | {r['task']} {_fmt(r.get('task_metric'), 3)} "
                    f"| {_fmt(r.get('task_metric_noopt'), 3)} | {_fmt(r.get('wall_s'))} | {_fmt(r.get('peak_rss_mb'), 0)} "
                    f"| {r.get('quant_nodes', '-')} | {note} |")
    return "\n".join(rows)


def best_sqnr(r: dict) -> float | None:
    """Return a row's SQNR in the better of the two sessions (FP8 is scored both ways)."""
    vals = [v for v in (r.get("sqnr_db"), r.get("sqnr_db_noopt")) if v is not None]
    return max(vals) if vals else None


def plot(results: dict, path: Path) -> None:
    """Save a grouped bar chart of output SQNR (ORT default session) per model and tool."""
    rows = [r for r in results["results"] if r["tool"] != "fp32"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(models)), 4.5))
    width = 0.8 / max(1, len(tools))
    for i, tool in enumerate(tools):
        vals = []
        for m in models:
            r = next((r for r in rows if r["model"] == m and r["tool"] == tool), None)
            v = r.get("sqnr_db") if r and r["rc"] == 0 else None
            vals.append(max(min(v, 60.0), -5.0) if v is not None else 0.0)
        ax.bar([j + i * width for j in range(len(models))], vals, width, label=tool)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(models))])
    ax.set_xticklabels(models, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("output SQNR vs FP32, dB (ORT default session; 0 = failed)")
    ax.legend(fontsize=7, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ratios(results: dict) -> dict:
    """Return the headline numbers: edgeq minus the best peer (SQNR, dB) per model and format, time and RSS ratios."""
    rows = results["results"]
    out: dict = {"edgeq_minus_best_peer_sqnr_db": {}, "edgeq_time_over_ort": {}, "edgeq_peak_rss_mb": {},
                 "edgeq_ok": 0, "edgeq_runs": 0}
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        ort = next((r for r in mine if r["tool"] == "ort_int8" and r["rc"] == 0), None)
        for fmt, tool in EDGEQ.items():
            e = next((r for r in mine if r["tool"] == tool), None)
            if e is None:
                continue
            out["edgeq_runs"] += 1
            out["edgeq_ok"] += e["rc"] == 0
            # A peer that quantized nothing (quant_nodes == 0) is no competitor: it returned the FP32 model.
            peers = [best_sqnr(r) for r in mine if r["fmt"] == fmt and r["rc"] == 0 and r.get("quant_nodes") != 0
                     and not r["tool"].startswith(("edgeq", "fp32")) and best_sqnr(r) is not None]
            mine_sqnr = e.get("sqnr_db") if e["rc"] == 0 else None
            if peers and mine_sqnr is not None:
                out["edgeq_minus_best_peer_sqnr_db"][f"{model}/{fmt}"] = round(mine_sqnr - max(peers), 2)
            elif peers:
                out["edgeq_minus_best_peer_sqnr_db"][f"{model}/{fmt}"] = None  # edgeq failed where a peer ran
            if ort and e["rc"] == 0 and ort["wall_s"]:
                out["edgeq_time_over_ort"][f"{model}/{fmt}"] = round(e["wall_s"] / ort["wall_s"], 2)
            if e.get("peak_rss_mb") is not None:
                out["edgeq_peak_rss_mb"][f"{model}/{fmt}"] = e["peak_rss_mb"]
    return out


def write_doc(results: dict, path: Path) -> None:
    """Write the markdown page and its plot (PNG beside it), both from `results` alone."""
    png = path.with_name(path.stem + "_sqnr.png")
    plot(results, png)
    meta = results.get("meta", {})
    loads = [r["load_1min"] for r in results["results"] if r.get("load_1min") is not None]
    load = f" Load average while measuring: {min(loads):.1f}-{max(loads):.1f}." if loads else ""
    skips = "".join(f"\n- `{k}`: {v}" for k, v in meta.get("peer_skips", {}).items())
    path.write_text(
        "# edgeq against the peers on real models\n\n"
        "Generated by `benchmarks/bench_realmodels.py` from `benchmarks/results/realmodels.json`; re-render with "
        "`--render-only`. Models come from public wheels (`benchmarks/realmodels/fetch.py`); inputs are seeded and "
        "synthetic but realistic (rendered text, speech-like audio, 1/f textures, token ids). SQNR is of the first "
        "output against the FP32 model on the eval feeds; FP8 is also scored with ORT's graph optimizations off, "
        "which CPU FP8 QDQ needs. Task metrics: `mask_iou` (DB map > 0.3), `string_match` (greedy CTC), `top1` "
        "(argmax, or decision at 0.5), `cosine` (embedding), `box_iou_*` (FP32-live anchors, 0 when dropped).\n\n"
        f"Samples: {meta.get('samples')} calibration and {meta.get('samples')} eval feeds, seed {meta.get('seed')}; "
        f"per-command timeout {meta.get('timeout_s')} s; CPU: {meta.get('cpu')}.{load}\nedgeq: {meta.get('edgeq')}.\n"
        + (f"\nPeers skipped:{skips}\n" if skips else "")
        + f"\n![SQNR per model and tool]({png.name})\n\n" + table(results) + "\n"
    )
