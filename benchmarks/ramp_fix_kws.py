"""KWS accuracy (and LM bits/char) of the noisy NL-ADC LSTM per ramp preset (the 8-bit ramp fix at task level).

    .venv/bin/python benchmarks/ramp_fix_kws.py [--bits 5 8] [--presets chip chip_verified chip_multi chip_two_step]
    .venv/bin/python benchmarks/ramp_fix_kws.py --task lm --bits 5 8 --presets chip chip_verified chip_multi
    .venv/bin/python benchmarks/ramp_fix_kws.py [--task lm] --render   # the markdown tables of docs/ramp_adc.md

Same model, data, training and noise as benchmarks/ramp_lstm_experiments.py (KWS LSTM trained 40 FP epochs, seed 0;
gate MVMs on the crossbar's RRAM tiles, all five LSTM nonlinearities on ramp NL-ADCs of the preset), only the
"NL-ADC Nb + noise" rows, mean and std over the chip instances NOISE_SEEDS; preset "ideal" keeps the noisy
gate tiles but an ideal ramp (what is left when the ramp is perfect). `--task lm`: the character LM of the same
script (3000 FP Adam steps, bits/char over the test split as 128 streams). One thread. Writes
benchmarks/results/ramp_fix_kws.json (ramp_fix_lm.json); the last stdout line is JSON: the metric per (preset, bits).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ramp_fix_kws.json"
RESULTS_LM = Path(__file__).parent / "results" / "ramp_fix_lm.json"
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


def run_lm(bits: list[int], presets: list[str], steps: int, seed: int) -> dict:
    """Return the FP bits/char and one row per (preset, bits) for the character LM (as ramp_lstm_experiments)."""
    import numpy as np
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from edgeq.examples.rnn_tasks import CharLSTM, load_charlm
    from ramp_lstm_experiments import NOISE_SEEDS, analog_copy, bits_per_char, noisy_config, train_lm

    data = load_charlm()
    torch.manual_seed(seed)
    model = CharLSTM(len(data["vocab"]))
    train_lm(model, list(model.parameters()), data["train"], steps, seed, 3e-3, "LM FP training")
    rows = []
    for preset in presets:
        for b in bits:
            cfg = noisy_config("ramp", b, preset)
            vals = [bits_per_char(analog_copy(model, cfg, s), data["test"]) for s in NOISE_SEEDS]
            rows.append({"preset": preset, "bits": b, "mean": float(np.mean(vals)), "std": float(np.std(vals)),
                         "values": vals})
            print(f"{preset} {b}b: {np.mean(vals):.3f} +- {np.std(vals):.3f}", file=sys.stderr, flush=True)
    return {"task": "lm", "steps": steps, "seed": seed, "chips": list(NOISE_SEEDS),
            "fp_bits_per_char": bits_per_char(model, data["test"]), "rows": rows}


def _table(results: dict, digits: int, note: str) -> str:
    """Return the markdown table of results: one row per bits, one column per preset, mean ± std to `digits`."""
    presets = list(dict.fromkeys(r["preset"] for r in results["rows"]))
    by = {(r["preset"], r["bits"]): r for r in results["rows"]}
    lines = ["| noisy NL-ADC | " + " | ".join(f"`{p}`" for p in presets) + " |", "|---" * (len(presets) + 1) + "|"]
    for b in sorted({r["bits"] for r in results["rows"]}):
        cells = [f"{by[p, b]['mean']:.{digits}f} ± {by[p, b]['std']:.{digits}f}" if (p, b) in by else "-"
                 for p in presets]
        lines.append(f"| {b} bits | " + " | ".join(cells) + " |")
    lines.append(f"\n{note} {results['chips']}.")
    return "\n".join(lines)


def render_lm(results: dict) -> str:
    """Return the LM markdown table: one row per bits, one column per preset (bits/char)."""
    return _table(results, 3, f"FP (digital) {results['fp_bits_per_char']:.3f}; LM test bits/char, mean ± std over "
                              "chips")


def render(results: dict) -> str:
    """Return the KWS markdown table: one row per bits, one column per preset (accuracy %)."""
    return _table(results, 1, f"FP (digital) {results['fp_accuracy']:.1f}%; KWS test accuracy (%), mean ± std over "
                              "chips")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[5, 8])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", choices=["kws", "lm"], default="kws")
    parser.add_argument("--lm-steps", type=int, default=3000)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:
        if args.task == "lm":
            print(render_lm(json.loads(RESULTS_LM.read_text())))
        else:
            print(render(json.loads(RESULTS.read_text())))
        return
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    from edgeq.io import write_json

    if args.task == "lm":
        results = run_lm(args.bits, args.presets, args.lm_steps, args.seed)
        write_json(RESULTS_LM, results)
        print(json.dumps({f"{r['preset']} {r['bits']}b": round(r["mean"], 3) for r in results["rows"]}))
        return
    results = run(args.bits, args.presets, args.epochs, args.seed)
    write_json(RESULTS, results)
    print(json.dumps({f"{r['preset']} {r['bits']}b": round(r["mean"], 1) for r in results["rows"]}))


if __name__ == "__main__":
    main()
