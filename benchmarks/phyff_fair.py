"""Fair PhyFF deployment baselines over seeds: FF training online vs backprop frozen vs backprop fine-tuned on the
same online batches (bp_online, hwa_online), mean +- std of test accuracy at the start, the fault and the end.

    .venv/bin/python benchmarks/phyff_fair.py [--seeds 0,1,2] [--physical wave] [--epochs 4]
    .venv/bin/python benchmarks/phyff_fair.py --render     # the markdown table of docs/phyff.md

Writes benchmarks/results/phyff_fair.json. The last line is JSON: mean end accuracy per method.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "phyff_fair.json"
ORDER = ("ff", "bp", "bp_online", "hwa", "hwa_online")
LABELS = {"ff": "FF on hardware (online)", "bp": "BP ideal -> hardware (frozen)",
          "bp_online": "BP fine-tuned on the same online batches", "hwa": "HWA (noisy twin) -> hardware (frozen)",
          "hwa_online": "HWA fine-tuned on the same online batches"}


def run(seeds: list[int], data: str, physical: str, epochs: int, deploy_s: float, fault_rate: float) -> dict:
    """Return per method the accuracy curves of every seed and their mean and std at start, fault and end."""
    import torch

    from edgeq.phyff.experiment import DriftConfig, ExperimentConfig, run_experiment

    torch.set_num_threads(1)
    curves: dict[str, list] = {}
    times = None
    for seed in seeds:
        cfg = ExperimentConfig(data=data, physical=physical, epochs=epochs, seed=seed,
                               drift=DriftConfig(deploy_s=deploy_s, checkpoints=6, fault_rate=fault_rate))
        results, _ = run_experiment(cfg)
        times = results["drift"]["times_s"]
        for m, acc in results["drift"]["accuracy"].items():
            curves.setdefault(m, []).append(acc)
        print(f"seed {seed}: " + ", ".join(f"{m} {100 * a[-1]:.1f}%" for m, a in results["drift"]["accuracy"].items()),
              flush=True)
    fault_k = len(times) // 2
    summary = {m: {k: [float(np.mean([c[i] for c in cs])), float(np.std([c[i] for c in cs]))]
                   for k, i in (("start", 0), ("after_fault", fault_k), ("end", -1))} for m, cs in curves.items()}
    return {"data": data, "physical": physical, "epochs": epochs, "deploy_s": deploy_s, "fault_rate": fault_rate,
            "seeds": seeds, "times_s": times, "curves": curves, "summary": summary}


def render(results: dict) -> str:
    """Return the markdown table of the results."""
    lines = ["| method | start | after the fault | end |", "|---|---|---|---|"]
    for m in ORDER:
        if m in results["summary"]:
            s = results["summary"][m]
            cells = " | ".join(f"{100 * s[k][0]:.1f} +- {100 * s[k][1]:.1f}%" for k in ("start", "after_fault", "end"))
            lines.append(f"| {LABELS[m]} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--physical", default="wave")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--deploy-s", type=float, default=3600.0)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    from edgeq.io import write_json

    if args.render:
        print(render(json.loads(RESULTS.read_text())))
        return
    results = run([int(s) for s in args.seeds.split(",")], args.data, args.physical, args.epochs, args.deploy_s,
                  args.fault_rate)
    write_json(RESULTS, results)
    print(json.dumps({m: round(s["end"][0], 4) for m, s in results["summary"].items()}))


if __name__ == "__main__":
    main()
