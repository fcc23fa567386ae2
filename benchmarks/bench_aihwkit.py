"""IBM aihwkit side by side with edgeq's crossbar: one 512x512 layer's time against torch nn.Linear, read noise off
and on, each simulator with its own defaults (issue 18 section 3). Optional: without aihwkit it says why and skips.

    .venv/bin/python benchmarks/bench_aihwkit.py [--threads 1] [--repeats 21]

aihwkit 1.2.0 has wheels for Python 3.12 only; on 3.11 build it from its sdist against the pinned CPU torch
(needs libopenblas-dev, about 11 minutes). This script has not yet run here (no aihwkit on this machine), so no
aihwkit figure is quoted in the docs until it does. The last line is JSON (with "skipped" and its reason when
aihwkit is absent).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _median(f, repeats: int) -> float:
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--batch", type=int, default=1024)
    args = parser.parse_args()
    try:
        from aihwkit.inference import PCMLikeNoiseModel
        from aihwkit.nn import AnalogLinear
        from aihwkit.simulator.configs import InferenceRPUConfig, WeightNoiseType
    except ImportError as err:
        print(json.dumps({"bench": "aihwkit", "skipped": True,
                          "reason": f"aihwkit is not installed ({err}); it has wheels for Python 3.12 only"}))
        return
    import torch
    from edgeq.simulators import get_preset, program

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((512, 512)) / np.sqrt(512)).astype(np.float32)
    x = rng.uniform(-1, 1, (args.batch, 512)).astype(np.float32)
    xt = torch.from_numpy(x)
    linear = torch.nn.Linear(512, 512, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w.T.copy()))

    def aihwkit_layer(read_noise: bool):
        rpu = InferenceRPUConfig()
        rpu.noise_model = PCMLikeNoiseModel(g_max=25.0)
        if read_noise:
            rpu.forward.w_noise_type = WeightNoiseType.PCM_READ
            rpu.forward.w_noise = 0.0175
        layer = AnalogLinear(512, 512, bias=False, rpu_config=rpu)
        layer.set_weights(torch.from_numpy(w.T.copy()))
        layer.eval()
        layer.drift_analog_weights(86400.0)
        return layer

    layers = {"aihwkit_default": aihwkit_layer(False), "aihwkit_pcm_read_noise": aihwkit_layer(True)}
    arrays = {"edgeq_ideal_adc8": program(w, get_preset("ideal_adc8"), rng),
              "edgeq_pcm": program(w, get_preset("pcm"), rng)}
    with torch.no_grad():
        base = _median(lambda: linear(xt), args.repeats)
        ratios = {k: _median(lambda m=m: m(xt), args.repeats) / base for k, m in layers.items()}
    read_rng = np.random.default_rng(1)
    ratios.update({k: _median(lambda a=a: a.matmul(x, 86400.0, read_rng), args.repeats) / base
                   for k, a in arrays.items()})
    print(json.dumps({"bench": "aihwkit", "skipped": False, "threads": args.threads,
                      **{f"{k}_vs_linear": round(v, 2) for k, v in ratios.items()}}))


if __name__ == "__main__":
    main()
