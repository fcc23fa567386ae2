"""edgeq against the peers on the public real-model corpus (issue 15): quality, time and memory.

For each corpus model (fetched by benchmarks/realmodels/fetch.py) and tool, one subprocess with a timeout,
wall time and peak RSS: the FP32 reference, `edgeq quantize --fmt int8|fp8_e4m3`, onnxruntime quant_pre_process +
quantize_static (QDQ, per-channel, MinMax), and where they import from --peer-python: Intel's
onnx-neural-compressor, AIMET-ONNX and NVIDIA ModelOpt (int8 and fp8). All get the same calibration feeds. Each
quantized model is scored on the same eval feeds in ORT's default session and with optimizations off: output
SQNR, per-output SQNR and the model's task metric. Failures are recorded (exit status, last stderr line), never
fatal. Writes benchmarks/results/realmodels.json (rows of re-run (model, tool) pairs replaced), renders
docs/realmodels.md and its plot from that file, and prints a JSON object of ratios as its last line.

Run: .venv/bin/python benchmarks/bench_realmodels.py [--models a,b] [--tools edgeq_int8,ort_int8]
     [--samples 16] [--timeout 600] [--peer-python /work/peers-venv/bin/python] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from realmodels import corpus, metrics, render  # noqa: E402
from realmodels.evaluate import load_outputs  # noqa: E402

REPO = HERE.parent
RESULTS = HERE / "results" / "realmodels.json"
DOC = REPO / "docs" / "realmodels.md"
RM = HERE / "realmodels"
# tool -> (format, runs in the peer venv)
TOOLS = {
    "fp32": ("fp32", False),
    "edgeq_int8": ("int8", False),
    "edgeq_fp8": ("fp8_e4m3", False),
    "ort_int8": ("int8", False),
    "inc_int8": ("int8", True),
    "aimet_int8": ("int8", True),
    "aimet_fp8": ("fp8_e4m3", True),
    "modelopt_int8": ("int8", True),
    "modelopt_fp8": ("fp8_e4m3", True),
}
PEER_MODULE = {"inc": "onnx_neural_compressor", "aimet": "aimet_onnx", "modelopt": "modelopt.onnx.quantization"}


def measured(cmd: list[str], timeout: float, python: str = sys.executable, cwd: Path | None = None) -> dict:
    """Run `cmd` under measure.py (a fresh process, so its peak RSS is the command's own) and return the record.

    `cwd`: quant_pre_process and the peers drop temporary files in the working folder; keep them out of the repo.
    """
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        rec_path = f.name
    try:
        subprocess.run([python, str(RM / "measure.py"), rec_path, str(timeout), "--", *cmd], check=True, cwd=cwd)
        return json.loads(Path(rec_path).read_text())
    finally:
        os.unlink(rec_path)


def quantize_cmd(tool: str, model: Path, data: dict, out: Path, args) -> list[str] | str:
    """Return the command that quantizes `model` with `tool` into `out`, or a string saying why it cannot run."""
    fmt, in_peer = TOOLS[tool]
    if tool.startswith("edgeq"):
        # Today's edgeq reads only the stacked .npz; a feed folder is the new format it is learning to read.
        calib = data["calib_npz"] or data["calib_dir"]
        return [*args.edgeq, "quantize", str(model), "--fmt", fmt, "--calib", str(calib), "-o", str(out),
                "--json", "--quiet", "--force"]
    python = args.peer_python if in_peer else sys.executable
    return [python, str(RM / "peers.py"), tool.split("_")[0], fmt, str(model), str(data["calib_dir"]),
            str(data["calib_npz"] or ""), str(out)]


def peer_available(tool: str, python: str | None, cache: dict) -> str | None:
    """Return None when the tool's package imports in `python`, else the reason it is skipped."""
    name = tool.split("_")[0]
    if name not in PEER_MODULE:
        return None
    if not python:
        return "no --peer-python given"
    if name not in cache:
        r = subprocess.run([python, "-c", f"import {PEER_MODULE[name]}"], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        cache[name] = None if r.returncode == 0 else f"import {PEER_MODULE[name]} failed: {lines[-1] if lines else ''}"
    return cache[name]


def score(entry: corpus.Entry, ref: list, outputs_path: Path) -> dict:
    """Return output SQNR, per-output SQNR and the task metric of saved outputs against the FP32 reference."""
    test = load_outputs(outputs_path)
    return {"sqnr_db": _num(metrics.output_sqnr(ref, test)),
            "per_output_sqnr_db": [_num(v) for v in metrics.per_output_sqnr(ref, test)],
            "task_metric": _num(metrics.task_metric(entry.task, ref, test))}


def _num(x: float) -> float | None:
    """JSON-safe number: None for nan, a large sentinel for inf (identical outputs)."""
    if x is None or math.isnan(x):
        return None
    return 999.0 if math.isinf(x) and x > 0 else (-999.0 if math.isinf(x) else round(float(x), 3))


def run_model(entry: corpus.Entry, tools: list[str], args, work: Path, peer_ok: dict) -> list[dict]:
    """Run every tool on one model; return one result row per tool."""
    model = corpus.model_path(entry.name, args.cache)
    data = corpus.write_data(entry.name, args.samples, args.seed, args.cache)
    rows = []
    ref_path = work / f"{entry.name}.fp32.npz"
    ref_rec = measured([sys.executable, str(RM / "evaluate.py"), str(model), str(data["eval_dir"]), str(ref_path)],
                       args.timeout)
    if ref_rec["rc"] != 0:
        return [_row(entry, "fp32", ref_rec, error="FP32 reference failed: " + ref_rec["stderr_last"])]
    ref = load_outputs(ref_path)
    for tool in tools:
        fmt = TOOLS[tool][0]
        if tool == "fp32":
            rows.append(_row(entry, tool, ref_rec, sqnr_db=999.0, task_metric=1.0))
            continue
        why = peer_available(tool, args.peer_python, peer_ok)
        out = work / f"{entry.name}.{tool}.onnx"
        cmd = why or quantize_cmd(tool, model, data, out, args)
        if isinstance(cmd, str):
            rows.append(_row(entry, tool, {"rc": "skipped"}, error=cmd))
            continue
        python = args.peer_python if TOOLS[tool][1] else sys.executable
        rec = measured(cmd, args.timeout, python, cwd=work)
        print(f"  {entry.name:22s} {tool:14s} rc={rec['rc']} {rec['wall_s']:7.1f} s {rec['peak_rss_mb']:7.0f} MB "
              f"{rec['stderr_last'][:100] if rec['rc'] != 0 else ''}", file=sys.stderr)
        if rec["rc"] != 0 or not out.exists():
            rows.append(_row(entry, tool, rec, error=rec["stderr_last"] or "no output model written"))
            continue
        row = _row(entry, tool, rec, quant_nodes=quant_nodes(out))
        # FP8 QDQ is known to be broken by ORT's CPU graph optimizations, so score FP8 both ways.
        for opt, suffix in (("default", ""), ("disable", "_noopt")):
            if opt == "disable" and fmt != "fp8_e4m3" and not args.all_sessions:
                continue
            outs = work / f"{entry.name}.{tool}.{opt}.npz"
            ev = measured([sys.executable, str(RM / "evaluate.py"), str(out), str(data["eval_dir"]), str(outs),
                           "--opt", opt], args.timeout)
            if ev["rc"] != 0:
                row["eval_error" + suffix] = ev["stderr_last"]
                continue
            row.update({k + suffix: v for k, v in score(entry, ref, outs).items()})
        rows.append(row)
    return rows


def quant_nodes(path: Path) -> int | None:
    """Return how many QuantizeLinear/DequantizeLinear/QLinear*/*Integer nodes the model has, subgraphs included.

    Zero means the tool left the model in float (e.g. a VAD whose whole network sits inside an If): its perfect
    SQNR must not read as a win.
    """
    import onnx

    def count(graph) -> int:
        n = 0
        for node in graph.node:
            n += node.op_type in ("QuantizeLinear", "DequantizeLinear") or node.op_type.startswith("QLinear") \
                or node.op_type.endswith("Integer")
            n += sum(count(a.g) for a in node.attribute if a.type == onnx.AttributeProto.GRAPH)
        return n

    try:
        return count(onnx.load(str(path), load_external_data=False).graph)
    except Exception:  # noqa: BLE001 - an unreadable model is reported by the evaluation step
        return None


def _row(entry: corpus.Entry, tool: str, rec: dict, **extra) -> dict:
    """Return a result row: who, format, exit status, time and memory, plus `extra`."""
    row = {"model": entry.name, "tool": tool, "fmt": TOOLS[tool][0], "task": entry.task, "rc": rec.get("rc"),
           "wall_s": rec.get("wall_s"), "peak_rss_mb": rec.get("peak_rss_mb"), "sqnr_db": None, "task_metric": None,
           # Shared machines: a wall time taken under load is not comparable with one taken idle.
           "load_1min": round(os.getloadavg()[0], 2)}
    row.update(extra)
    return row


def merge(old: dict, rows: list[dict], meta: dict) -> dict:
    """Return the results with `rows` replacing earlier rows of the same (model, tool)."""
    keys = {(r["model"], r["tool"]) for r in rows}
    kept = [r for r in old.get("results", []) if (r["model"], r["tool"]) not in keys]
    order = {m.name: i for i, m in enumerate(corpus.MODELS)}
    tool_order = list(TOOLS)
    merged = sorted(kept + rows, key=lambda r: (order.get(r["model"], 99), tool_order.index(r["tool"])))
    return {"meta": meta, "results": merged}


def main(argv: list[str] | None = None) -> int:
    """Run the selected models and tools, write results and docs, print the ratios JSON last."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated corpus models (default: all cached)")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, from {list(TOOLS)}")
    ap.add_argument("--samples", type=int, default=16, help="calibration feeds, and as many eval feeds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per command")
    ap.add_argument("--cache", default=None, help="corpus cache (default $EDGEQ_REALMODELS or ~/.cache/...)")
    ap.add_argument("--peer-python", default=None, help="python of the venv holding the peers (default: skip them)")
    ap.add_argument("--edgeq", default=None, help="edgeq command (default: this python -m edgeq)")
    ap.add_argument("--all-sessions", action="store_true", help="also score int8 models with optimizations off")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--render-only", action="store_true", help="re-render docs from the results file and exit")
    args = ap.parse_args(argv)
    args.edgeq = args.edgeq.split() if args.edgeq else [sys.executable, "-m", "edgeq"]
    if not args.render_only:
        tools = args.tools.split(",")
        unknown = [t for t in tools if t not in TOOLS]
        if unknown:
            ap.error(f"unknown tools {unknown}")
        tools = ["fp32"] + [t for t in tools if t != "fp32"]
        entries = [e for e in corpus.select(args.models) if corpus.model_path(e.name, args.cache).exists()]
        if not entries:
            ap.error(f"no corpus model in {corpus.cache_dir(args.cache)}; run benchmarks/realmodels/fetch.py")
        peer_ok: dict = {}
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="edgeq_realmodels_") as work:
            for entry in entries:
                print(f"{entry.name}", file=sys.stderr)
                rows = run_model(entry, tools, args, Path(work), peer_ok)
                # Written after every model: a long run that is stopped still leaves its results.
                old = json.loads(args.results.read_text()) if args.results.exists() else {}
                meta = {"samples": args.samples, "seed": args.seed, "timeout_s": args.timeout, "cpu": _cpu(),
                        "edgeq": _edgeq_version(args.edgeq),
                        "peer_skips": {**old.get("meta", {}).get("peer_skips", {}),
                                       **{k: v for k, v in peer_ok.items() if v}}}
                args.results.write_text(json.dumps(merge(old, rows, meta), indent=1) + "\n")
    results = json.loads(args.results.read_text())
    render.write_doc(results, DOC)
    print(json.dumps(render.ratios(results)))
    return 0


def _edgeq_version(cmd: list[str]) -> str:
    """Return which edgeq ran: the command and the git commit of the source it imports (edgeq changes fast)."""
    r = subprocess.run([*cmd[:-2], "-c", "import edgeq, pathlib; print(pathlib.Path(edgeq.__file__).parent)"]
                       if cmd[-2:] == ["-m", "edgeq"] else ["true"], capture_output=True, text=True)
    src = r.stdout.strip()
    commit = subprocess.run(["git", "-C", src or str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", src or str(REPO), "status", "--porcelain", "--", "."], capture_output=True,
                           text=True).stdout.strip()
    return f"{' '.join(cmd)} ({src or 'unknown source'}, commit {commit}{', modified' if dirty else ''})"


def _cpu() -> str:
    """Return the CPU model and whether it has VNNI (int8 QDQ scores differ with and without it)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "unknown")
    return f"{name}, {os.cpu_count()} cores, {'VNNI' if 'vnni' in info else 'no VNNI'}"


if __name__ == "__main__":
    sys.exit(main())
