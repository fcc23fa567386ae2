"""Deployment benchmark (issue 16): is edgeq's output as fast as the runtime's own quantizer, and does it scale?

1. Latency in onnxruntime's default CPU session: FP32, `quantize_static` (QDQ, per-channel, MinMax, uint8 x int8)
   and edgeq int8 (each --target on the digits CNN; ort-cpu on the real-model corpus) on the digits CNN with a
   signed input (x - 0.5) and on every corpus model present in ~/.cache/edgeq/realmodels.
2. No calibration data: edgeq's bare `--fmt int8` (dynamic) against `quantize_dynamic` (per-channel int8).
3. With --big: weight-only int4 (MatMulNBits, block 32) of a 1.14e9-parameter decoder with random weights and
   external data, edgeq against onnxruntime's MatMulNBitsQuantizer (RTN): wall time and peak RSS, each in its own
   process; and the perplexity delta on a character LM trained here for a minute (benchmarks/deploy_lm.py).

Writes benchmarks/results/deploy.json, renders the tables into docs/quantize.md, prints the ratios as the last
line of JSON. `--render` only re-renders the docs from the results file.

    python benchmarks/bench_deploy.py [--big] [--corpus PATH] [--no-corpus] [--render]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
RESULTS = REPO / "benchmarks" / "results" / "deploy.json"
DOCS = REPO / "docs" / "quantize.md"
START, END = "<!-- bench_deploy:start -->", "<!-- bench_deploy:end -->"
EDGEQ = [sys.executable, "-m", "edgeq"]
TARGETS = ("ort-cpu", "tensorrt", "qnn", "generic")
TIMEOUT_S = 900


def latencies_ms(paths: dict[str, Path], feed: dict, rounds: int = 3) -> dict[str, float]:
    """Return label -> ms: per model, the median of about a second of runs in ORT's default CPU session; the
    models take turns for `rounds` rounds and each keeps its best round, so load from other processes drifting
    during the measurement does not favour whichever model ran in the quiet moment."""
    from edgeq.graph.session import ort_session

    sessions, repeats, best = {}, {}, {}
    for label, path in paths.items():
        try:
            sessions[label] = ort_session(str(path))
        except Exception as err:  # e.g. quantize_static writes a graph ORT refuses: a result, not a crash
            best[f"{label}_error"] = str(err).splitlines()[0][:200]
            continue
        t = time.perf_counter()
        for _ in range(3):
            sessions[label].run(None, feed)
        repeats[label] = int(min(2000, max(30, 1.0 / max(time.perf_counter() - t, 1e-6))))
    for _ in range(rounds):
        for label, sess in sessions.items():
            times = []
            for _ in range(repeats[label]):
                t = time.perf_counter()
                sess.run(None, feed)
                times.append(time.perf_counter() - t)
            ms = float(np.median(times) * 1e3)
            best[label] = min(best.get(label, ms), ms)
    return best


def outputs(path: Path, data: dict) -> np.ndarray:
    """Return the first output over all samples, one sample per run."""
    from edgeq.graph.session import ort_session

    sess = ort_session(str(path))
    n = len(next(iter(data.values())))
    return np.concatenate([sess.run(None, {k: v[i : i + 1] for k, v in data.items()})[0].reshape(1, -1)
                           for i in range(n)])


def static_ort(model: Path, calib: dict, out: Path) -> None:
    """Quantize with onnxruntime's quantize_static (after quant_pre_process where it works)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            n = len(next(iter(calib.values())))
            self.it = iter([{k: v[i : i + 1] for k, v in calib.items()} for i in range(n)])

        def get_next(self):
            return next(self.it, None)

    pre = out.with_suffix(".pre.onnx")
    try:
        quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
        src = pre
    except Exception:  # pre-processing fails on some graphs; quantize the original then
        src = model
    quantize_static(str(src), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def edgeq_cli(args: list[str], timeout: int = TIMEOUT_S) -> dict:
    """Run `edgeq quantize ARGS` in its own process; return exit code, wall time, peak RSS and the JSON report."""
    cmd = ["/usr/bin/time", "-f", "%M", *EDGEQ, "quantize", *args, "--quiet", "--json", "--force"]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"rc": "timeout", "wall_s": timeout}
    wall = time.perf_counter() - t
    err = p.stderr.strip().splitlines()
    rss = int(err[-1]) * 1024 if err and err[-1].isdigit() else None
    out = {"rc": p.returncode, "wall_s": wall, "peak_rss_bytes": rss}
    if p.returncode in (0, 1):
        try:
            out["report"] = json.loads(p.stdout)
        except json.JSONDecodeError:
            pass
    else:
        out["error"] = next((line for line in err if line.startswith("edgeq")), " ".join(err[:1]))[:300]
    return out


def _split(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "labels"}


def latency_row(name: str, model: Path, calib: dict, eval_: dict, targets, work: Path, calib_arg, eval_arg,
                batch: int = 1) -> dict:
    """Return FP32 / quantize_static / edgeq latencies on `batch` samples (and SQNR vs FP32) for one model."""
    from edgeq.metrics import sqnr_db

    feed = {k: v[:batch] for k, v in eval_.items()}
    row = {"model": name, "batch": batch}
    qs = work / f"{name}.qs.onnx"
    try:
        static_ort(model, calib, qs)
    except Exception as err:  # a peer's failure is a result, not a crash
        row["static_error"] = str(err).splitlines()[0][:200]
        qs = None
    for target in targets:
        out = work / f"{name}.{target}.onnx"
        run = edgeq_cli([str(model), "--calib", str(calib_arg), "--eval", str(eval_arg), "-o", str(out),
                         "--target", target])
        row[f"edgeq_{target}"] = {k: v for k, v in run.items() if k != "report"}
        if run["rc"] in (0, 1):
            row[f"edgeq_{target}"]["sqnr_db"] = run["report"]["sqnr_db"]
    paths = {"fp32": model, **({"static": qs} if qs else {}),
             **{t: work / f"{name}.{t}.onnx" for t in targets if row[f"edgeq_{t}"]["rc"] in (0, 1)}}
    for label, value in latencies_ms(paths, feed).items():
        row[label if label.endswith("_error") else f"{label}_ms"] = value
    if qs and "static_ms" in row:
        ref = outputs(model, eval_)
        row["static_sqnr_db"] = sqnr_db(ref, outputs(qs, eval_))
    elif qs:
        row["static_error"] = "onnxruntime cannot load quantize_static's model: " + row["static_error"][:120]
    return row


ONLY: set[str] = set()  # --models


def corpus_models(root: Path):
    """Yield (name, model path, calib .npz, eval .npz) for each corpus model with stacked calibration data."""
    manifest = root / "manifest.json"
    if not manifest.exists():
        return
    for name in sorted(json.loads(manifest.read_text())):
        if ONLY and name not in ONLY:
            continue
        d = root / "data" / name / "n16_seed0"
        if (root / "models" / f"{name}.onnx").exists() and (d / "calib.npz").exists() and (d / "eval.npz").exists():
            yield name, root / "models" / f"{name}.onnx", d / "calib.npz", d / "eval.npz"


def bench_latency(work: Path, corpus: Path | None) -> list[dict]:
    """Return the latency rows: the signed-input digits CNN (every target), then the corpus (ort-cpu)."""
    calib = {k: v - 0.5 for k, v in _split(dict(np.load(REPO / "examples/digits_calib.npz"))).items()}
    ev = _split(dict(np.load(REPO / "examples/digits_eval.npz")))
    ev = {k: v[:256] - 0.5 for k, v in ev.items()}
    np.savez(work / "signed_calib.npz", **calib)
    np.savez(work / "signed_eval.npz", **ev)
    rows = [latency_row("digits_cnn_signed", REPO / "examples/digits_cnn.onnx", calib, ev, TARGETS, work,
                        work / "signed_calib.npz", work / "signed_eval.npz", batch=64)]
    for name, model, c, e in corpus_models(corpus) if corpus else []:
        print(f"corpus {name} ...", file=sys.stderr, flush=True)
        rows.append(latency_row(name, model, _split(dict(np.load(c))), _split(dict(np.load(e))), ("ort-cpu",), work,
                                c, e))
    return rows


def bench_dynamic(work: Path, corpus: Path | None) -> list[dict]:
    """Return edgeq's no-calibration int8 against quantize_dynamic (latency, SQNR vs FP32) per model."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgeq.metrics import sqnr_db

    cases = [("digits_mlp", REPO / "examples/digits_mlp.onnx", REPO / "examples/digits_eval.npz"),
             ("digits_cnn", REPO / "examples/digits_cnn.onnx", REPO / "examples/digits_eval.npz")]
    cases += [(n, m, e) for n, m, _, e in (corpus_models(corpus) if corpus else []) if n == "minilm_l6"]
    rows = []
    for name, model, eval_path in cases:
        ev = {k: v[:64] for k, v in _split(dict(np.load(eval_path))).items()}
        qd = work / f"{name}.qdyn.onnx"
        quantize_dynamic(str(model), str(qd), per_channel=True, weight_type=QuantType.QInt8)
        out = work / f"{name}.edyn.onnx"
        run = edgeq_cli([str(model), "--fmt", "int8", "-o", str(out)])
        row = {"model": name, "edgeq": {k: v for k, v in run.items() if k != "report"}}
        feed = {k: v[:1] for k, v in ev.items()}
        ref = outputs(model, ev)
        paths = {"fp32": model, "quantize_dynamic": qd, **({"edgeq": out} if run["rc"] in (0, 1) else {})}
        row.update({f"{k}_ms": v for k, v in latencies_ms(paths, feed).items()})
        row["quantize_dynamic_sqnr_db"] = sqnr_db(ref, outputs(qd, ev))
        if run["rc"] in (0, 1):
            row["edgeq_sqnr_db"] = sqnr_db(ref, outputs(out, ev))
        rows.append(row)
    return rows


_ORT_NBITS = """
import logging, sys, time
logging.disable(logging.INFO)
import onnx
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
t = time.perf_counter()
q = MatMulNBitsQuantizer(onnx.load(sys.argv[1]), block_size=32, is_symmetric=True)
q.process()
q.model.save_model_to_file(sys.argv[2], use_external_data_format=True)
print(time.perf_counter() - t)
"""


def _timed(cmd: list[str]) -> dict:
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, cwd=REPO)
    err = p.stderr.strip().splitlines()
    return {"rc": p.returncode, "wall_s": time.perf_counter() - t,
            "peak_rss_bytes": int(err[-1]) * 1024 if err and err[-1].isdigit() else None,
            "error": "" if p.returncode == 0 else " ".join(err[-3:])[:300]}


def bench_big(work: Path) -> dict:
    """Return the weight-only figures: the 1.14e9-parameter decoder (time, RSS) and the char LM (perplexity)."""
    from deploy_lm import BIG, CHAR, CHARLM, perplexity, train_charlm, windows, write_lm

    big = write_lm(work / "lm1b.onnx", BIG)
    size = (work / "lm1b.onnx.data").stat().st_size
    out = {"params": BIG.params, "model_bytes": size}
    out["edgeq_rtn"] = _timed([*EDGEQ, "quantize", str(big), "--weights", "int4", "--acts", "float",
                               "--granularity", "block:32", "-o", str(work / "lm1b.edgeq.onnx"), "--quiet", "--force"])
    out["ort_rtn"] = _timed([sys.executable, "-c", _ORT_NBITS, str(big), str(work / "lm1b.ort.onnx")])
    for p in work.glob("lm1b*"):
        p.unlink()
    weights = train_charlm(60.0)
    char = write_lm(work / "charlm.onnx", CHAR, weight=lambda n, d: weights[n])
    codes = np.load(CHARLM)
    test = windows(codes["test"], CHAR.context)
    np.savez(work / "charlm_calib.npz", ids=windows(codes["train"], CHAR.context, 64, 6007)[:, :-1])
    ppl = {"fp32": perplexity(char, test)}
    for label, extra in (("edgeq_rtn", []), ("edgeq_clip", ["--calib", str(work / "charlm_calib.npz")])):
        path = work / f"charlm.{label}.onnx"
        run = edgeq_cli([str(char), "--weights", "int4", "--acts", "float", "--granularity", "block:32",
                         "-o", str(path), *extra])
        ppl[label] = perplexity(path, test) if run["rc"] == 0 else None
    _timed([sys.executable, "-c", _ORT_NBITS, str(char), str(work / "charlm.ort.onnx")])
    ppl["ort_rtn"] = perplexity(work / "charlm.ort.onnx", test)
    out["charlm_perplexity"] = ppl
    out["charlm_test_chars"] = int(test[:, 1:].size)
    return out


def ratios(res: dict) -> dict:
    """Return the headline ratios (the last-line JSON)."""
    out = {}
    rows = [r for r in res.get("latency", []) if "static_ms" in r and "ort-cpu_ms" in r]
    if rows:
        rel = [r["ort-cpu_ms"] / r["static_ms"] for r in rows]
        out["edgeq_over_static_median"] = round(float(np.median(rel)), 3)
        out["edgeq_over_static_max"] = round(float(np.max(rel)), 3)
        fast = [r for r in rows if r["static_ms"] < r["fp32_ms"]]
        out["faster_than_fp32_where_static_is"] = f"{sum(r['ort-cpu_ms'] < r['fp32_ms'] for r in fast)}/{len(fast)}"
        out["models"] = len(rows)
    dyn = [r for r in res.get("dynamic", []) if "edgeq_ms" in r]
    if dyn:
        out["dynamic_edgeq_over_quantize_dynamic_median"] = round(float(np.median(
            [r["edgeq_ms"] / r["quantize_dynamic_ms"] for r in dyn])), 3)
    big = res.get("big")
    if big and big["edgeq_rtn"]["rc"] == 0 and big["ort_rtn"]["rc"] == 0:
        out["big_time_edgeq_over_ort"] = round(big["edgeq_rtn"]["wall_s"] / big["ort_rtn"]["wall_s"], 3)
        out["big_peak_rss_over_model"] = round(big["edgeq_rtn"]["peak_rss_bytes"] / big["model_bytes"], 3)
        out["big_ort_peak_rss_over_model"] = round(big["ort_rtn"]["peak_rss_bytes"] / big["model_bytes"], 3)
        p = big["charlm_perplexity"]
        out["charlm_ppl_delta_edgeq_rtn"] = round(p["edgeq_rtn"] - p["fp32"], 4)
        out["charlm_ppl_delta_edgeq_clip"] = round(p["edgeq_clip"] - p["fp32"], 4)
        out["charlm_ppl_delta_ort_rtn"] = round(p["ort_rtn"] - p["fp32"], 4)
    return out


def _ms(row: dict, key: str) -> str:
    return f"{row[key]:.3f}" if key in row else "-"


def _db(value) -> str:
    return value if isinstance(value, str) else f"{value:.1f}"  # the JSON file stores inf as "inf"


def _err(run: dict | None) -> str:
    if not run:
        return "-"
    return "timeout" if run["rc"] == "timeout" else f"exit {run['rc']}: {run.get('error', '')[:60]}"


def render_markdown(res: dict) -> str:
    """Return the docs' tables (Markdown) for a results dict."""
    cpu = res.get("cpu", {})
    lines = [f"Measured by `python benchmarks/bench_deploy.py`{' (weight-only tables: `--big`)' if 'big' in res else ''} "
             f"({cpu.get('machine', '?')}, {cpu.get('threads', '?')} threads, int8 kernels exact: "
             f"{cpu.get('int8_exact')} via {cpu.get('feature') or 'none'}); ORT default CPU session, ms per run on "
             "`batch` samples (median of about a second of runs; the models take turns for three rounds and "
             "each keeps its best). edgeq/static is the ratio of edgeq ort-cpu to quantize_static; edgeq "
             "rows that failed show the exit status (corpus failures belong to the real-model issue).", "",
             "| model | batch | FP32 ms | quantize_static ms | edgeq ort-cpu ms | edgeq/static | tensorrt | qnn | generic "
             "| edgeq SQNR dB | static SQNR dB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res.get("latency", []):
        run = r.get("edgeq_ort-cpu", {})
        rel = f"{r['ort-cpu_ms'] / r['static_ms']:.2f}" if "ort-cpu_ms" in r and "static_ms" in r else "-"
        edgeq = _ms(r, "ort-cpu_ms") if "ort-cpu_ms" in r else _err(run)
        sq = _db(run["sqnr_db"]) if "sqnr_db" in run else "-"
        ssq = _db(r["static_sqnr_db"]) if "static_sqnr_db" in r else r.get("static_error", "-")[:40]
        lines.append(f"| {r['model']} | {r.get('batch', 1)} | {_ms(r, 'fp32_ms')} | {_ms(r, 'static_ms')} | {edgeq} | {rel} | "
                     f"{_ms(r, 'tensorrt_ms')} | {_ms(r, 'qnn_ms')} | {_ms(r, 'generic_ms')} | {sq} | {ssq} |")
    lines += ["", "No calibration data (`edgeq quantize model.onnx --fmt int8`, dynamic) against onnxruntime's "
              "`quantize_dynamic` (per-channel int8); one sample per run; SQNR of the first output vs FP32 on 64 "
              "eval samples (inf: the model computes exactly the FP32 values, i.e. nothing was quantized):", "",
              "| model | FP32 ms | quantize_dynamic ms | edgeq ms | quantize_dynamic SQNR dB | edgeq SQNR dB |",
              "|---|---|---|---|---|---|"]
    for r in res.get("dynamic", []):
        esq = _db(r["edgeq_sqnr_db"]) if "edgeq_sqnr_db" in r else _err(r.get("edgeq"))
        lines.append(f"| {r['model']} | {_ms(r, 'fp32_ms')} | {_ms(r, 'quantize_dynamic_ms')} | {_ms(r, 'edgeq_ms')} | "
                     f"{_db(r['quantize_dynamic_sqnr_db'])} | {esq} |")
    big = res.get("big")
    if big:
        gb = big["model_bytes"] / 1e9
        lines += ["", f"Weight-only int4 (MatMulNBits, block 32) of a {big['params'] / 1e9:.2f}e9-parameter decoder "
                  f"with random weights ({gb:.2f} GB of FP32 external data):", "",
                  "| quantizer | wall s | peak RSS GB | peak RSS / model size |", "|---|---|---|---|"]
        for label, key in (("edgeq (RTN)", "edgeq_rtn"), ("onnxruntime MatMulNBitsQuantizer (RTN)", "ort_rtn")):
            run = big[key]
            rss = run["peak_rss_bytes"] or 0
            lines.append(f"| {label} | {run['wall_s']:.1f} | {rss / 1e9:.2f} | {rss / big['model_bytes']:.2f} |"
                         if run["rc"] == 0 else f"| {label} | failed: {run['error'][:80]} | | |")
        p = big["charlm_perplexity"]
        lines += ["", f"Character LM trained here for 60 s (examples/charlm_pydoc.npz, {big['charlm_test_chars']} "
                  "test characters): perplexity", "", "| FP32 | edgeq RTN | edgeq clip search (64 calibration "
                  "windows) | onnxruntime RTN |", "|---|---|---|---|",
                  f"| {p['fp32']:.4f} | {p['edgeq_rtn']:.4f} | {p['edgeq_clip']:.4f} | {p['ort_rtn']:.4f} |"]
    lines += ["", "Ratios: `" + json.dumps(res.get("ratios", {})) + "`", ""]
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark (or only re-render the docs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also the 1B weight-only run and the char LM (slow)")
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("EDGEQ_REALMODELS",
                                                                              "~/.cache/edgeq/realmodels")).expanduser())
    parser.add_argument("--no-corpus", action="store_true", help="only the digits models")
    parser.add_argument("--models", default="", help="comma-separated corpus models to run (default: every one)")
    parser.add_argument("--render", action="store_true", help="only re-render docs/quantize.md from the results")
    args = parser.parse_args()
    ONLY.update(m for m in args.models.split(",") if m)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    if args.render:
        res = json.loads(RESULTS.read_text())
    else:
        corpus = None if args.no_corpus else args.corpus
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            res = {"cpu": _cpu(), "latency": bench_latency(work, corpus), "dynamic": bench_dynamic(work, corpus)}
            if args.big:
                res["big"] = bench_big(work)
            elif RESULTS.exists() and "big" in json.loads(RESULTS.read_text()):
                res["big"] = json.loads(RESULTS.read_text())["big"]  # keep the last --big figures
        res["ratios"] = ratios(res)
        from edgeq.io import write_json

        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        write_json(RESULTS, res, sort_keys=True)
    table = render_markdown(res)
    text = DOCS.read_text()
    if START in text:
        text = text[: text.index(START)] + START + "\n" + table + END + text[text.index(END) + len(END):]
        DOCS.write_text(text)
    print(table)
    print(json.dumps(res["ratios"]))


def _cpu() -> dict:
    from edgeq.cpu import int8_kernels

    k = int8_kernels()
    return {"int8_exact": k.exact, "feature": k.feature, "machine": k.machine, "threads": os.cpu_count()}


if __name__ == "__main__":
    main()
