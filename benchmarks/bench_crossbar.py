"""Crossbar MVM speed against torch nn.Linear, side by side in one run, and peak memory of a large batch.

    .venv/bin/python benchmarks/bench_crossbar.py [--threads 1] [--repeats 21] [--runs 3]
    .venv/bin/python benchmarks/bench_crossbar.py --render-layer    # the docs table of the committed results

512x512 weights, batch 1024, float32, on the default 256x256 tiles (2 x 2 tiles). Variants, each timed as the
MVM of an already programmed array (programming is once per chip and reported separately):
  (a) ideal devices + 8-bit DAC/ADC                        preset ideal_adc8
  (b) programming + read noise + 8-bit DAC/ADC             preset rram (state-independent read noise)
  (b') the same with state-dependent (1/f) read noise     preset pcm, needs the GEMM on squares
  (c) (b) + IR drop, 1 ohm wire segments                   rram.with_ir_drop(1.0)
Each ratio is the median time over the median time of nn.Linear, with torch, Numba and BLAS on the same number
of threads, measured round-robin so machine load hits all variants alike; written to
results/bench_crossbar_layer.json. The last line is JSON.

    .venv/bin/python benchmarks/bench_crossbar.py --model ddddocr_det [--samples 1] [--presets rram,pcm] [--runs 3]
    .venv/bin/python benchmarks/bench_crossbar.py --render-model    # the docs table of the committed results

times a whole corpus model instead (written to results/bench_crossbar_model.json): one `OnnxCrossbarModel.run`
(one chip at one drift time, the unit `edgeq simulate` repeats per chip and per time; programming once per chip
reported apart) against onnxruntime's FP32 inference of the same inputs, same threads, round-robin medians of
wall and of CPU time; the goal is a ratio of at most 3.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc

from pathlib import Path

import numba
import numpy as np
import torch
from edgeq.io import write_json
from edgeq.simulators import get_preset, program
from threadpoolctl import threadpool_limits

MODEL_RESULTS = Path(__file__).parent / "results" / "bench_crossbar_model.json"
LAYER_RESULTS = Path(__file__).parent / "results" / "bench_crossbar_layer.json"


def _median_times(funcs: dict, repeats: int, clock=time.perf_counter) -> dict[str, float]:
    for f in funcs.values():  # warm up (Numba compile, caches)
        f()
    times = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            t0 = clock()
            f()
            times[k].append(clock() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def model_speed(name: str, samples: int, presets: list[str], threads: int, repeats: int) -> dict:
    """Return the median seconds of ORT FP32 and of one simulated run per preset on a corpus model, and ratios."""
    import onnx
    import onnxruntime as ort
    from edgeq.simulators.onnx_sim import OnnxCrossbarModel

    cache = Path(os.environ.get("EDGEQ_REALMODELS", "~/.cache/edgeq/realmodels")).expanduser()
    proto = onnx.load(str(cache / "models" / f"{name}.onnx"))
    with np.load(cache / "data" / name / "n16_seed0" / "eval.npz") as z:
        feeds = {k: z[k][:samples] for k in z.files}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    funcs, program_s = {"ort_fp32": lambda: sess.run(None, feeds)}, {}
    for preset in presets:
        sim = OnnxCrossbarModel(proto, get_preset(preset))
        t0 = time.perf_counter()
        sim.program(np.random.default_rng(0))
        sim.run(feeds, 86400.0, np.random.default_rng(1))  # effective weights at this time are built once
        program_s[preset] = time.perf_counter() - t0
        funcs[preset] = lambda s=sim: s.run(feeds, 86400.0, np.random.default_rng(1))
    med = _median_times(funcs, repeats)
    # CPU time of this process as well: on a loaded machine (other jobs on the same cores) wall time inflates
    # both sides by different amounts, CPU time much less (one thread each, so CPU time ~ wall time when idle)
    cpu = _median_times(funcs, repeats, clock=time.process_time)
    return {"model": name, "samples": samples, "threads": threads, "load_avg_1min": round(os.getloadavg()[0], 2),
            "ort_fp32_s": round(med["ort_fp32"], 4),
            **{f"{p}_s": round(med[p], 4) for p in presets},
            **{f"{p}_vs_ort": round(med[p] / med["ort_fp32"], 2) for p in presets},
            **{f"{p}_vs_ort_cpu_time": round(cpu[p] / cpu["ort_fp32"], 2) for p in presets},
            **{f"{p}_program_and_first_run_s": round(program_s[p], 2) for p in presets}}


def render_model(results: dict) -> str:
    """Return the markdown table of whole-model speed (docs/crossbar.md): per model, the range over runs."""

    def span(values, fmt="{:.2f}"):
        lo, hi = min(values), max(values)
        return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"

    lines = ["| model | preset | seconds per run (ORT FP32) | x onnxruntime, wall time | x onnxruntime, CPU time | "
             "load average |", "|---|---|---|---|---|---|"]
    for name, rec in results.items():
        runs = rec["runs"]
        presets = [k[: -len("_vs_ort")] for k in runs[0] if k.endswith("_vs_ort")]
        for p in presets:
            lines.append(
                f"| {name} ({rec['samples']} sample, {rec['threads']} thread) | {p} | "
                f"{span([r[p + '_s'] for r in runs], '{:.3f}')} ({span([r['ort_fp32_s'] for r in runs], '{:.3f}')}) | "
                f"{span([r[p + '_vs_ort'] for r in runs])} | {span([r[p + '_vs_ort_cpu_time'] for r in runs])} | "
                f"{span([r['load_avg_1min'] for r in runs], '{:.1f}')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--memory-batch", type=int, default=16384)
    parser.add_argument("--model", help="a corpus model: time a whole simulated run against onnxruntime FP32")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--presets", default="rram,pcm")
    parser.add_argument("--runs", type=int, default=3, help="measurements, each a median of --repeats")
    parser.add_argument("--render-model", action="store_true", help="print the docs table of the committed results")
    parser.add_argument("--render-layer", action="store_true", help="print the docs table of the committed results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    if args.render_model:
        print(render_model(json.loads(MODEL_RESULTS.read_text())))
        return
    if args.model:
        with threadpool_limits(args.threads):
            runs = [model_speed(args.model, args.samples, args.presets.split(","), args.threads, args.repeats)
                    for _ in range(args.runs)]
        record = {"model": args.model, "samples": args.samples, "threads": args.threads, "runs": runs}
        old = json.loads(MODEL_RESULTS.read_text()) if MODEL_RESULTS.exists() else {}
        write_json(MODEL_RESULTS, {**old, args.model: record})
        print(render_model({args.model: record}))
        print(json.dumps({"bench": "crossbar_model", "model": args.model, **{
            k: [r[k] for r in runs] for k in runs[0] if k.endswith("_vs_ort") or k.endswith("_cpu_time")}}))
        return
    if args.render_layer:
        print(render_layer(json.loads(LAYER_RESULTS.read_text())))
        return
    with threadpool_limits(args.threads):
        runs = [layer_speed(args.batch, args.memory_batch, args.repeats) for _ in range(args.runs)]
    record = {"threads": args.threads, "batch": args.batch, "repeats": args.repeats, "runs": runs}
    write_json(LAYER_RESULTS, record)
    print(render_layer(record))
    print(json.dumps({"bench": "crossbar", "threads": args.threads,
                      **{f"{k}_vs_linear": [r["vs_linear"][k] for r in runs] for k in LAYER_VARIANTS},
                      "peak_mib": runs[-1]["peak_mib"], "output_mib": runs[-1]["output_mib"]}))


LAYER_VARIANTS = {
    "a_ideal_adc8": "(a) ideal devices + 8-bit DAC/ADC",
    "b_rram": "(b) RRAM: programming + read noise + 8-bit DAC/ADC",
    "b_pcm": "(b') PCM: state-dependent (1/f) read noise, needs the GEMM on squares",
    "c_rram_ir_drop": "(c) (b) + IR drop (1 ohm segments)",
}


def layer_speed(batch: int, memory_batch: int, repeats: int) -> dict:
    """Return one measurement of the 512x512 layer: each variant's median time over nn.Linear's, programming
    seconds, and the peak traced memory of one MVM at memory_batch."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((512, 512)) / np.sqrt(512)).astype(np.float32)
    x = rng.uniform(-1, 1, (batch, 512)).astype(np.float32)
    linear = torch.nn.Linear(512, 512, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w.T.copy()))
    xt = torch.from_numpy(x)
    configs = {"a_ideal_adc8": get_preset("ideal_adc8"), "b_rram": get_preset("rram"), "b_pcm": get_preset("pcm"),
               "c_rram_ir_drop": get_preset("rram").with_ir_drop(1.0)}
    arrays, program_s = {}, {}
    for name, cfg in configs.items():
        t0 = time.perf_counter()
        arrays[name] = program(w, cfg, np.random.default_rng(1))
        arrays[name].state_at(0.0)  # IR-drop solve and effective matrices happen here, once
        program_s[name] = time.perf_counter() - t0
    read_rng = np.random.default_rng(2)

    def linear_run():
        with torch.no_grad():
            linear(xt)

    funcs = {"torch_linear": linear_run}
    funcs.update({name: (lambda a=a: a.matmul(x, 0.0, read_rng)) for name, a in arrays.items()})
    med = _median_times(funcs, repeats)
    big = rng.uniform(-1, 1, (memory_batch, 512)).astype(np.float32)
    arrays["b_rram"].matmul(big[:8], 0.0, read_rng)
    tracemalloc.start()
    arrays["b_rram"].matmul(big, 0.0, read_rng)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    base = med["torch_linear"]
    return {"load_avg_1min": round(os.getloadavg()[0], 2), "linear_ms": round(1e3 * base, 3),
            "vs_linear": {k: round(med[k] / base, 3) for k in configs},
            "program_s": {k: round(v, 2) for k, v in program_s.items()},
            "peak_mib": round(peak / 2**20, 1), "output_mib": round(memory_batch * 512 * 4 / 2**20, 1),
            "memory_batch": memory_batch, "batch_chunk": get_preset("rram").batch_chunk}


def render_layer(record: dict) -> str:
    """Return the markdown table of the 512x512 layer (docs/crossbar.md): median over runs and the range."""
    runs = record["runs"]
    lines = ["| variant | x nn.Linear, median (range over runs) | programming s |", "|---|---|---|"]
    for key, label in LAYER_VARIANTS.items():
        values = sorted(r["vs_linear"][key] for r in runs)
        prog = max(r["program_s"][key] for r in runs)
        lines.append(f"| {label} | {float(np.median(values)):.2f} ({values[0]:.2f}-{values[-1]:.2f}) | {prog:.2f} |")
    last = runs[-1]
    lines.append(f"| nn.Linear | 1 ({min(r['linear_ms'] for r in runs):.1f}-{max(r['linear_ms'] for r in runs):.1f} "
                 f"ms per MVM) | - |")
    loads = [r["load_avg_1min"] for r in runs]
    lines.append("")
    lines.append(f"{len(runs)} runs, batch {record['batch']}, {record['threads']} thread(s), load average "
                 f"{min(loads):.1f}-{max(loads):.1f}; peak traced memory of one MVM at batch {last['memory_batch']}: "
                 f"{last['peak_mib']:.0f} MiB, of which {last['output_mib']:.0f} MiB is the output (chunks of "
                 f"{last['batch_chunk']}).")
    return "\n".join(lines)

if __name__ == "__main__":
    main()
