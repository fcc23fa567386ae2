"""KWS accuracy of the noisy NL-ADC LSTM per ramp preset (the 8-bit ramp fix at task level).

    .venv/bin/python benchmarks/ramp_fix_kws.py [--bits 5 8] [--presets chip chip_verified chip_multi chip_two_step]
    .venv/bin/python benchmarks/ramp_fix_kws.py --render       # the markdown table of docs/ramp_adc.md

Same model, data, training and noise as benchmarks/ramp_lstm_experiments.py (KWS LSTM trained 40 FP epochs, seed 0;
gate MVMs on the crossbar's RRAM tiles, all five LSTM nonlinearities on ramp NL-ADCs of the preset), only the
"NL-ADC Nb + noise" rows, mean and std over the chip instances NOISE_SEEDS; preset "ideal" keeps the noisy
gate tiles but an ideal ramp (what is left when the ramp is perfect). One thread. Writes
benchmarks/results/ramp_fix_kws.json; the last stdout line is JSON: accuracy per (preset, bits).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ramp_fix_kws.json"
PRESETS = ("chip", "chip_verified", "chip_multi", "chip_two_step", "ideal")


def run(bits: list[int], presets: list[str], epochs: int, seed: int) -> dict:
    """Return the FP accuracy and one row per (preset, bits): mean/std accuracy over chip instances."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).parent))
    from edgeq.examples.rnn_tasks import load_kws
    from ramp_lstm_experiments import NOISE_SEEDS, analog_copy, kws_accuracy, noisy_config, train_kws

    data = load_kws()
    model = train_kws(data, epochs, seed)
    rows = []
    for preset in presets:
        for b in bits:
            cfg = noisy_config("ramp", b, preset)
            vals = [kws_accuracy(analog_copy(model, cfg, s), data) for s in NOISE_SEEDS]
            rows.append({"preset": preset, "bits": b, "mean": float(np.mean(vals)), "std": float(np.std(vals)),
                         "values": vals})
            print(f"{preset} {b}b: {np.mean(vals):.1f} +- {np.std(vals):.1f}", file=sys.stderr, flush=True)
    return {"task": "kws", "epochs": epochs, "seed": seed, "chips": list(NOISE_SEEDS),
            "fp_accuracy": kws_accuracy(model, data), "rows": rows}


def render(results: dict) -> str:
    """Return the markdown table: one row per bits, one column per preset."""
    presets = list(dict.fromkeys(r["preset"] for r in results["rows"]))
    by = {(r["preset"], r["bits"]): r for r in results["rows"]}
    lines = ["| noisy NL-ADC | " + " | ".join(f"`{p}`" for p in presets) + " |", "|---" * (len(presets) + 1) + "|"]
    for b in sorted({r["bits"] for r in results["rows"]}):
        cells = [f"{by[p, b]['mean']:.1f} ± {by[p, b]['std']:.1f}" if (p, b) in by else "-" for p in presets]
        lines.append(f"| {b} bits | " + " | ".join(cells) + " |")
    lines.append(f"\nFP (digital) {results['fp_accuracy']:.1f}%; KWS test accuracy (%), mean ± std over chips "
                 f"{results['chips']}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[5, 8])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(RESULTS.read_text())))
        return
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    from edgeq.io import write_json

    results = run(args.bits, args.presets, args.epochs, args.seed)
    write_json(RESULTS, results)
    print(json.dumps({f"{r['preset']} {r['bits']}b": round(r["mean"], 1) for r in results["rows"]}))


if __name__ == "__main__":
    main()
