"""Crossbar MVM speed against torch nn.Linear, side by side in one run, and peak memory of a large batch.

    .venv/bin/python benchmarks/bench_crossbar.py [--threads 1] [--repeats 21]

512x512 weights, batch 1024, float32, on the default 256x256 tiles (2 x 2 tiles). Variants, each timed as the
MVM of an already programmed array (programming is once per chip and reported separately):
  (a) ideal devices + 8-bit DAC/ADC                        preset ideal_adc8
  (b) programming + read noise + 8-bit DAC/ADC             preset rram (state-independent read noise)
  (b') the same with state-dependent (1/f) read noise     preset pcm, needs the GEMM on squares
  (c) (b) + IR drop, 1 ohm wire segments                   rram.with_ir_drop(1.0)
Each ratio is the median time over the median time of nn.Linear, with torch, Numba and BLAS on the same number
of threads, measured round-robin so machine load hits all variants alike. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numba
import numpy as np
import torch
from edgeq.simulators import get_preset, program
from threadpoolctl import threadpool_limits


def _median_times(funcs: dict, repeats: int) -> dict[str, float]:
    for f in funcs.values():  # warm up (Numba compile, caches)
        f()
    times = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--memory-batch", type=int, default=16384)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((512, 512)) / np.sqrt(512)).astype(np.float32)
    x = rng.uniform(-1, 1, (args.batch, 512)).astype(np.float32)
    with threadpool_limits(args.threads):
        linear = torch.nn.Linear(512, 512, bias=False)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
        xt = torch.from_numpy(x)
        configs = {
            "a_ideal_adc8": get_preset("ideal_adc8"),
            "b_rram": get_preset("rram"),
            "b_pcm": get_preset("pcm"),
            "c_rram_ir_drop": get_preset("rram").with_ir_drop(1.0),
        }
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
        med = _median_times(funcs, args.repeats)

        big = rng.uniform(-1, 1, (args.memory_batch, 512)).astype(np.float32)
        arrays["b_rram"].matmul(big[:8], 0.0, read_rng)
        tracemalloc.start()
        arrays["b_rram"].matmul(big, 0.0, read_rng)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    base = med["torch_linear"]
    print(f"512x512 weights, batch {args.batch}, float32, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'variant':<18}{'ms':>9}{'x nn.Linear':>13}{'program s':>11}")
    print(f"{'torch nn.Linear':<18}{1e3 * base:>9.2f}{1.0:>13.2f}{'':>11}")
    for name in configs:
        print(f"{name:<18}{1e3 * med[name]:>9.2f}{med[name] / base:>13.2f}{program_s[name]:>11.2f}")
    out_mb = args.memory_batch * 512 * 4 / 2**20
    print(
        f"peak memory of one MVM at batch {args.memory_batch} (rram): {peak / 2**20:.1f} MiB "
        f"(output alone {out_mb:.1f} MiB; batch chunk {get_preset('rram').batch_chunk})"
    )
    print(
        json.dumps(
            {
                "bench": "crossbar",
                "threads": args.threads,
                "a_vs_linear": round(med["a_ideal_adc8"] / base, 3),
                "b_vs_linear": round(med["b_rram"] / base, 3),
                "b_pcm_vs_linear": round(med["b_pcm"] / base, 3),
                "c_vs_linear": round(med["c_rram_ir_drop"] / base, 3),
                "linear_ms": round(1e3 * base, 3),
                "peak_mib_batch16k": round(peak / 2**20, 1),
                "output_mib_batch16k": round(out_mb, 1),
                "ir_drop_program_s": round(program_s["c_rram_ir_drop"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
