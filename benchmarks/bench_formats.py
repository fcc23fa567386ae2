"""Fake-quant throughput: edgeq (Numba) vs torch's native casts / fake_quantize ops vs ml_dtypes, in one run.

    python benchmarks/bench_formats.py [--repeats 7] [--sizes 1M,16M]

FP8 E4M3: edgeq.fake_quant vs `x.to(torch.float8_e4m3fn).to(torch.float32)` (per tensor: x / s cast back * s) and
vs ml_dtypes' astype round trip. INT8: edgeq vs torch.fake_quantize_per_tensor_affine / per_channel_affine.
Per channel uses 256 channels along axis 0. Times are medians of repeats after a warm-up; ratios > 1 mean edgeq
is slower. The last line is one JSON object with the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import ml_dtypes
import numpy as np
import torch

from edgeq.formats import fake_quant

CHANNELS = 256


def median_seconds(fn, repeats: int) -> float:
    """Return the median wall time of fn() over `repeats` runs after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cases(n: int):
    """Yield (name, edgeq fn, torch fn, ml_dtypes fn or None) for one tensor size."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((CHANNELS, n // CHANNELS)).astype(np.float32)
    xt = torch.from_numpy(x)
    s = np.float32(np.abs(x).max() / 448)
    sc = (np.abs(x).max(axis=1) / 448).astype(np.float32)
    sct = torch.from_numpy(sc)[:, None]
    yield (
        "fp8_e4m3 per-tensor",
        lambda: fake_quant(x, "fp8_e4m3", scale=s),
        lambda: (xt / s).to(torch.float8_e4m3fn).to(torch.float32) * s,
        lambda: (x / s).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) * s,
    )
    yield (
        "fp8_e4m3 per-channel",
        lambda: fake_quant(x, "fp8_e4m3", scale=sc, axis=0),
        lambda: (xt / sct).to(torch.float8_e4m3fn).to(torch.float32) * sct,
        lambda: (x / sc[:, None]).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) * sc[:, None],
    )
    si = float(np.abs(x).max() / 127)
    sci = (np.abs(x).max(axis=1) / 127).astype(np.float32)
    zero = torch.zeros(CHANNELS, dtype=torch.int32)
    yield (
        "int8 per-tensor",
        lambda: fake_quant(x, "int8", scale=si),
        lambda: torch.fake_quantize_per_tensor_affine(xt, si, 0, -128, 127),
        None,
    )
    yield (
        "int8 per-channel",
        lambda: fake_quant(x, "int8", scale=sci, axis=0),
        lambda: torch.fake_quantize_per_channel_affine(xt, torch.from_numpy(sci), zero, 0, -128, 127),
        None,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sizes", default="1M,16M", help="comma-separated element counts, M = 2^20")
    args = parser.parse_args(argv)
    sizes = [int(float(s.rstrip("M")) * (1 << 20)) if s.endswith("M") else int(s) for s in args.sizes.split(",")]
    print(f"torch threads {torch.get_num_threads()}, numba threads {__import__('numba').get_num_threads()}")
    print(f"{'case':<24}{'elements':>10}{'edgeq ms':>10}{'torch ms':>10}{'ml_dtypes ms':>14}{'edgeq/torch':>13}")
    ratios: dict[str, float] = {}
    for n in sizes:
        for name, ours, theirs, ml in cases(n):
            t_ours = median_seconds(ours, args.repeats)
            t_torch = median_seconds(theirs, args.repeats)
            t_ml = median_seconds(ml, max(1, args.repeats // 2)) if ml else float("nan")
            key = f"{name.replace(' ', '_').replace('-', '_')}_{n >> 20}M_vs_torch"
            ratios[key] = round(t_ours / t_torch, 3)
            if ml:
                ratios[key.replace("torch", "ml_dtypes")] = round(t_ours / t_ml, 3)
            print(f"{name:<24}{n:>10}{t_ours * 1e3:>10.2f}{t_torch * 1e3:>10.2f}{t_ml * 1e3:>14.2f}{t_ours / t_torch:>13.2f}")
    fp8 = [v for k, v in ratios.items() if k.startswith("fp8") and k.endswith("vs_torch")]
    int8 = [v for k, v in ratios.items() if k.startswith("int8") and k.endswith("vs_torch")]
    result = {"bench": "formats", "fp8_vs_torch": max(fp8), "int8_vs_torch": max(int8), **ratios}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
