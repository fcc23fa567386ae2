"""Time `edgeq quantize` (whole command, calibration and report included) against onnxruntime.quantization's
quantize_static with its pre-processing step (quant_pre_process), each in a fresh process, side by side.

Prints one row per (model, format) with accuracy, logit SQNR vs FP32, ORT-default agreement with edgeq's
reference and the median wall time (ratio to the quantize_static median), then the int8 comparison with ORT's own
SQNR, and as its LAST line a JSON object of ratios.
Run: .venv/bin/python benchmarks/bench_quantize.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EX = REPO / "examples"
EDGEQ = [sys.executable, "-m", "edgeq"]
FORMATS = ["int8", "int4", "fp8_e4m3", "fp8_e5m2", "fp8_e3m4", "fp8_e2m5", "fp6_e3m2", "fp4", "mxfp4"]

ORT_SCRIPT = """
import sys, numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
src, pre, out, calib = sys.argv[1:5]
data = np.load(calib)["image"]
class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = iter([{"image": data[i:i + 64]} for i in range(0, len(data), 64)])
    def get_next(self):
        return next(self.it, None)
quant_pre_process(src, pre)
quantize_static(pre, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
"""


def timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def edgeq_cmd(model: str, fmt: str, out: Path, extra=()) -> list[str]:
    return EDGEQ + ["quantize", str(EX / f"digits_{model}.onnx"), "--fmt", fmt, "--calib", str(EX / "digits_calib.npz"),
                    "--eval", str(EX / "digits_eval.npz"), "-o", str(out), "--force", "--json", "--quiet", *extra]


def ort_sqnr(path: Path, model: str) -> tuple[float, float]:
    import onnxruntime as ort

    from edgeq.metrics import sqnr_db, top1_accuracy

    d = np.load(EX / "digits_eval.npz")
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"image": d["image"]})[0]
    fp32, q = run(EX / f"digits_{model}.onnx"), run(path)
    return sqnr_db(fp32, q), 100 * (top1_accuracy(fp32, d["labels"]) - top1_accuracy(q, d["labels"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_quantize_"))
    edgeq_t, ort_t = [], []
    for _ in range(args.repeats):  # interleaved, so load on the shared machine hits both alike
        edgeq_t.append(timed(edgeq_cmd("cnn", "int8", tmp / "e.onnx"))[0])
        ort_t.append(timed([sys.executable, "-c", ORT_SCRIPT, str(EX / "digits_cnn.onnx"), str(tmp / "pre.onnx"),
                            str(tmp / "ort.onnx"), str(EX / "digits_calib.npz")])[0])
    t_e, t_o = float(np.median(edgeq_t)), float(np.median(ort_t))
    ort_db, ort_drop = ort_sqnr(tmp / "ort.onnx", "cnn")
    print(f"CNN int8 whole command: edgeq {t_e:.2f} s, ORT quant_pre_process + quantize_static {t_o:.2f} s "
          f"(medians of {args.repeats}); ratio edgeq/ORT {t_e / t_o:.2f}")

    rows, times = {}, {}
    print(f"{'model':5s} {'format':10s} {'acc fp32':>8s} {'acc q':>7s} {'drop pp':>7s} {'SQNR dB':>8s} "
          f"{'ORT-def agree':>13s} {'ORT-def vs ref dB':>17s} {'time s':>7s} {'vs ORT':>6s}")
    for model in ("cnn", "mlp"):
        for fmt in FORMATS:
            runs = [timed(edgeq_cmd(model, fmt, tmp / f"{model}_{fmt}.onnx")) for _ in range(args.repeats)]
            elapsed = float(np.median([t for t, _ in runs]))
            r = json.loads(runs[0][1])
            fd = r["fidelity"]["ort_default"]
            rows[f"{model}_{fmt}"] = r
            times[f"{model}_{fmt}"] = elapsed
            print(f"{model:5s} {fmt:10s} {100 * r['accuracy_fp32']:8.2f} {100 * r['accuracy_quant']:7.2f} "
                  f"{r['accuracy_drop_pp']:7.2f} {r['sqnr_db']:8.2f} {100 * fd['agreement']:12.2f}% "
                  f"{fd['sqnr_db']!s:>17.6s} {elapsed:7.2f} {elapsed / t_o:6.2f}")
    _, out = timed(edgeq_cmd("cnn", "int8", tmp / "full.onnx", ["--full-range-int8"]))
    full = json.loads(out)
    print(f"CNN int8 logit SQNR: edgeq kernel-safe (7-bit weight range) {rows['cnn_int8']['sqnr_db']:.2f} dB, "
          f"edgeq full-range {full['sqnr_db']:.2f} dB, ORT quantize_static {ort_db:.2f} dB (drop {ort_drop:.2f} pp)")
    summary = {
        "bench": "quantize",
        "edgeq_vs_ort_quantize_static_time": round(t_e / t_o, 3),
        "edgeq_s": round(t_e, 3),
        "ort_s": round(t_o, 3),
        "cnn_int8_sqnr_db": round(rows["cnn_int8"]["sqnr_db"], 2),
        "cnn_int8_full_range_sqnr_db": round(full["sqnr_db"], 2),
        "ort_cnn_int8_sqnr_db": round(ort_db, 2),
        "cnn_fp8_e4m3_sqnr_db": round(rows["cnn_fp8_e4m3"]["sqnr_db"], 2),
        "max_format_time_vs_ort": round(max(t for t in times.values()) / t_o, 3),
        "min_ort_default_agreement": round(min(r["fidelity"]["ort_default"]["agreement"] for r in rows.values()), 4),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
