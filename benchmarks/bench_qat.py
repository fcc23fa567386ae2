"""QAT training-step time: edgeq.qat (brevitas quantizers) vs plain torch training of the same model, one run.

    python benchmarks/bench_qat.py [--repeats 7] [--steps 20]

Models: the digits CNN (batch 64, [64,1,8,8]) and the study's char transformer (batch 64, context 32). For each,
one "step" is forward + backward + AdamW update; the time is the median over repeats of `steps` steps, measured
alternately for float and QAT so machine load hits both alike. Formats: int8 and fp8_e4m3 (brevitas core
quantizers) and mxfp8_e4m3 (edgeq's torch fake_quant). One thread. The last line is one JSON object of ratios
(QAT step time / float step time; the goal is <= 3).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.nn import functional as F

import edgeq.qat as qat
from edgeq.study.models import CharTransformer, DigitsCNN


def _step_fn(model, x, y):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step():
        opt.zero_grad()
        out = model(x)
        F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)).backward()
        opt.step()

    return step


def _time(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def bench(name: str, model, x, y, fmt: str, repeats: int, steps: int) -> float:
    """Print and return the QAT / float step-time ratio for one model and format."""
    q = qat.prepare(model, fmt, fmt, "channel", calib=[x])
    float_step, qat_step = _step_fn(model.train(), x, y), _step_fn(q.train(), x, y)
    float_step(), qat_step()  # warm-up
    f_times, q_times = [], []
    for _ in range(repeats):
        f_times.append(_time(float_step, steps))
        q_times.append(_time(qat_step, steps))
    f, qt = statistics.median(f_times), statistics.median(q_times)
    print(f"{name:18s} {fmt:11s} float {1e3 * f:7.2f} ms/step   qat {1e3 * qt:7.2f} ms/step   ratio {qt / f:5.2f}")
    return qt / f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ratios = {}
    cnn_x, cnn_y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    ids = torch.randint(0, 94, (64, 33))
    cases = [("digits_cnn", DigitsCNN(), cnn_x, cnn_y),
             ("char_transformer", CharTransformer(94, 32), ids[:, :-1], ids[:, 1:])]
    for name, model, x, y in cases:
        for fmt in ("int8", "fp8_e4m3", "mxfp8_e4m3"):
            ratios[f"{name}_{fmt}"] = round(bench(name, model, x, y, fmt, args.repeats, args.steps), 3)
    ratios["max_ratio"] = max(ratios.values())
    print(json.dumps({"bench": "qat", **ratios}))


if __name__ == "__main__":
    main()
