"""Why the 8-bit noisy ramp ADC is worse than 4-5 bits, by measurement: switch off one error source at a time.

    .venv/bin/python benchmarks/ramp_noise_cause.py [--chips 10]
    .venv/bin/python benchmarks/ramp_noise_cause.py --render     # the markdown table of docs/ramp_adc.md

Preset "noisy" (RRAM ramp devices at twice the RRAM noise, comparator offset and noise 0.01), tanh, 5 and 8 bits;
rms error of the programmed ramp against exact tanh over the input span, mean over chips. Writes
benchmarks/results/ramp_noise_cause.json; the last line is JSON: 8-bit rms per variant.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ramp_noise_cause.json"


def variants() -> dict[str, dict]:
    """Return the overrides of each variant of the noisy preset."""
    from edgeq.simulators.ramp_adc import PRESETS

    dev = PRESETS["noisy"].device_config
    return {"noisy (all sources)": {},
            "no read noise": {"device": replace(dev, read=replace(dev.read, scale=0.0))},
            "no programming noise": {"device": replace(dev, programming=replace(dev.programming, scale=0.0))},
            "no comparator errors": {"comparator_offset": 0.0, "comparator_noise": 0.0},
            "program-and-verify": {"cumulative_verify": True}}


def run(chips: int, seed: int) -> dict:
    """Return rows of (bits, variant, chip rms, ideal rms, codes flipped)."""
    from edgeq.simulators.ramp_adc import RampADC, get_preset
    from edgeq.simulators.ramp_report import ramp_summary

    rows = []
    for bits in (5, 8):
        for name, overrides in variants().items():
            r = ramp_summary(RampADC(get_preset("noisy", bits=bits, **overrides)), chips, seed)
            rows.append({"bits": bits, "variant": name, "chip_rms": r["chip_rms_error_mean"],
                         "ideal_rms": r["ideal_rms_error"], "flips": r["codes_differing_from_ideal"]})
    return {"function": "tanh", "preset": "noisy", "chips": chips, "seed": seed, "rows": rows}


def render(results: dict) -> str:
    """Return the markdown table of the results."""
    lines = ["| bits | variant | rms error over chips | ideal ramp rms | codes differing |", "|---|---|---|---|---|"]
    lines += [f"| {r['bits']} | {r['variant']} | {r['chip_rms']:.4f} | {r['ideal_rms']:.4f} | {100 * r['flips']:.1f}% |"
              for r in results["rows"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    from edgeq.io import write_json

    if args.render:
        print(render(json.loads(RESULTS.read_text())))
        return
    results = run(args.chips, args.seed)
    write_json(RESULTS, results)
    print(json.dumps({r["variant"]: round(r["chip_rms"], 4) for r in results["rows"] if r["bits"] == 8}))


if __name__ == "__main__":
    main()
