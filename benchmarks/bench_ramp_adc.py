"""Ramp-ADC layer (MVM + comparator count) vs torch nn.Linear + tanh, and vs a linear ADC + digital lookup table.

512x512 layer, batch 1024, one thread, 5 and 8 bits. Each row: median of repeats; ratios are time / time of torch
nn.Linear + torch.tanh measured in the same run. Noisy rows for the presets `chip` (the paper's single ramp),
`chip_multi` (multi-device steps) and `chip_two_step` (the same devices read coarse-fine: 2^Bc + 2^Bf comparator
steps instead of 2^B). Written to results/bench_ramp_adc.json; last line: one JSON object with the ratios.

    .venv/bin/python benchmarks/bench_ramp_adc.py [--repeats 15]
    .venv/bin/python benchmarks/bench_ramp_adc.py --render     # the docs table of the committed results
"""

from __future__ import annotations

import argparse
import os
import json
import time
from collections.abc import Callable

import numba
import numpy as np
import torch
from threadpoolctl import threadpool_limits
from pathlib import Path

from edgeq.io import write_json
from edgeq.simulators.ramp_adc import LinearLutADC, RampADC, RampADCConfig, get_preset

RESULTS = Path(__file__).parent / "results" / "bench_ramp_adc.json"
NOISY = {"chip": "chip noise (RRAM read noise per sweep + comparator noise)",
         "chip_multi": "`chip_multi`: multi-device steps, same noise",
         "chip_two_step": "`chip_two_step`: the same devices read coarse-fine"}


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Return the median wall time of fn over repeats (after one warm-up call), in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    """Time every variant and print rows, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--render", action="store_true", help="print the docs table of the committed results")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(RESULTS.read_text())))
        return
    # one thread everywhere, set at run time: environment variables would also reach a process that imports this
    # module (the docs test imports it for `render`), and Numba refuses a new thread count once its pool runs
    numba.set_num_threads(1)
    with threadpool_limits(1):
        measure(args.repeats)


def measure(repeats: int) -> None:
    """Time every variant, print the rows, write the results file and print the JSON line."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, d = 1024, 512
    x = rng.standard_normal((n, d)).astype(np.float32)
    w = (rng.standard_normal((d, d)) / np.sqrt(d)).astype(np.float32)
    lin = torch.nn.Linear(d, d, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w.T.copy()))
    xt = torch.from_numpy(x)
    wt = torch.from_numpy(w)

    def torch_ref() -> object:
        with torch.no_grad():
            return torch.tanh(lin(xt))

    def mvm() -> np.ndarray:
        with torch.no_grad():
            return torch.matmul(xt, wt).numpy()  # the ideal crossbar MVM on the same BLAS as the baseline

    t_ref = median_time(torch_ref, repeats)
    t_mvm = median_time(mvm, repeats)
    print(f"{'variant':44s} {'ms':>8s} {'x torch':>8s}")
    print(f"{'torch nn.Linear + tanh':44s} {t_ref * 1e3:8.2f} {1.0:8.2f}")
    print(f"{'MVM alone (torch matmul)':44s} {t_mvm * 1e3:8.2f} {t_mvm / t_ref:8.2f}")
    ratios: dict[str, float] = {"bench": "ramp_adc"}  # type: ignore[dict-item]
    for bits in (5, 8):
        ideal = RampADC(RampADCConfig(bits=bits, function="tanh")).program(d)
        linear = LinearLutADC(bits, "tanh")
        y = mvm()
        ref_out = torch_ref().numpy()
        out = ideal.convert(y)
        err = float(np.max(np.abs(out - ref_out)))
        t_ramp = median_time(lambda a=ideal: a.convert(mvm()), repeats)
        t_noisy = {}
        for preset in NOISY:
            noisy = RampADC(get_preset(preset, bits=bits)).program(d, np.random.default_rng(1))
            t_noisy[preset] = median_time(lambda a=noisy: a.convert(mvm(), np.random.default_rng(2)), repeats)
        t_lin = median_time(lambda a=linear: a.convert(mvm()), repeats)
        t_numpy = median_time(lambda a=ideal: a.convert(mvm(), backend="numpy"), max(3, repeats // 3))
        rows = [(f"{bits}b ramp NL-ADC, ideal (MVM + count)", t_ramp),
                *((f"{bits}b ramp NL-ADC, {p}", t) for p, t in t_noisy.items()),
                (f"{bits}b linear ADC + digital LUT", t_lin), (f"{bits}b ramp NL-ADC, NumPy twin", t_numpy)]
        for name, t in rows:
            print(f"{name:44s} {t * 1e3:8.2f} {t / t_ref:8.2f}")
        print(f"  max |ramp - tanh| at {bits} bits: {err:.4f} (half a level: {1 / (2**bits - 1):.4f})")
        ratios[f"ramp{bits}_vs_torch"] = round(t_ramp / t_ref, 3)
        for preset, t in t_noisy.items():
            ratios[f"ramp{bits}_{preset}_vs_torch"] = round(t / t_ref, 3)
        ratios[f"linlut{bits}_vs_torch"] = round(t_lin / t_ref, 3)
        ratios[f"ramp{bits}_numpy_vs_torch"] = round(t_numpy / t_ref, 3)
        ratios[f"ramp{bits}_vs_linlut"] = round(t_ramp / t_lin, 3)
    ratios["load_avg_1min"] = round(os.getloadavg()[0], 2)
    write_json(RESULTS, ratios)
    print(json.dumps(ratios))


def render(r: dict) -> str:
    """Return the markdown speed table of docs/ramp_adc.md from the results."""
    lines = ["| variant | time / torch Linear+tanh |", "|---|---|"]
    for bits in (5, 8):
        goal = " (goal <= 3)" if bits == 8 else ""
        lines.append(f"| {bits}-bit NL-ADC, ideal | {r[f'ramp{bits}_vs_torch']:.2f}{goal} |")
        for preset, label in NOISY.items():
            lines.append(f"| {bits}-bit NL-ADC, {label} | {r[f'ramp{bits}_{preset}_vs_torch']:.2f} |")
    lines.append(f"| 5 / 8-bit linear ADC + digital LUT | {r['linlut5_vs_torch']:.2f} / {r['linlut8_vs_torch']:.2f} |")
    lines.append(f"| 5 / 8-bit NL-ADC, NumPy twin of the kernel | {r['ramp5_numpy_vs_torch']:.2f} / "
                 f"{r['ramp8_numpy_vs_torch']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
