"""PhyFF over seeds: training (FF on hardware vs backprop ideal / hardware-aware) and fair deployment baselines.

Every configuration of docs/phyff.md runs over seeds; in deployment FF trains online while the backprop models
stay frozen (bp, hwa) or fine-tune on the very same online batches, the same number of updates per checkpoint:
on their time-0 twin (bp_online, hwa_online), by physics-aware training (bp_pat: hardware forward, time-0 twin
backward), on a twin recalibrated to the drifted chip (bp_recal), or by physics-aware training through that
recalibrated twin (bp_pat_recal). Tables are mean +- sample std over the seeds.

    .venv/bin/python benchmarks/phyff_fair.py [--configs digits-rram,digits-wave] [--seeds 0,1,2] [--figures]
    .venv/bin/python benchmarks/phyff_fair.py --figures-only --configs digits-rram,digits-wave
    .venv/bin/python benchmarks/phyff_fair.py --render [training|deployment]   # the markdown tables of docs/phyff.md

Writes (merges its configurations into) benchmarks/results/phyff_fair.json. The last line is JSON: mean end
accuracy in deployment per configuration and method.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "phyff_fair.json"
# name -> (data, physical, epochs, deploy_s, fault_rate, methods, figure of seed 0[, backprop updates per online
# batch]); deploy_s None: no deployment
CONFIGS = {
    "digits-rram": ("digits", "crossbar:rram", 10, 86400.0, 0.1, ("ff", "bp", "hwa"), "phyff_digits_rram.png"),
    "vowels-rram": ("vowels", "crossbar:rram", 30, 86400.0, 0.1, ("ff", "bp", "hwa"), None),
    "digits-wave": ("digits", "wave", 10, 3600.0, 0.05, ("ff", "bp", "hwa"), "phyff_digits_wave.png"),
    "vowels-wave": ("vowels", "wave", 30, 3600.0, 0.05, ("ff", "bp", "hwa"), None),
    "digits-pcm": ("digits", "crossbar:pcm", 10, 31536000.0, 0.1, ("ff", "bp", "hwa"), None),
    "vowels-identity": ("vowels", "identity", 30, None, 0.0, ("ff", "bp"), None),
    # FF's step makes 3 Adam updates per block on one set of physical passes: give backprop 3 updates per batch too
    "digits-wave-bp3": ("digits", "wave", 10, 3600.0, 0.05, ("ff", "bp", "hwa"), None, 3),
    "digits-rram-bp3": ("digits", "crossbar:rram", 10, 86400.0, 0.1, ("ff", "bp", "hwa"), None, 3),
}
TRAIN_ORDER = ("ff", "bp", "hwa")
DEPLOY_ORDER = ("ff", "bp", "hwa", "bp_online", "hwa_online", "bp_pat", "bp_recal", "bp_pat_recal")
PHYSICAL_NAMES = {"identity": "identity (digital ceiling)"}


def run_config(name: str, seeds: list[int], figures: bool) -> dict:
    """Return the per-seed training figures and deployment curves of one configuration."""
    from edgeq.phyff.experiment import METHOD_LABELS, DriftConfig, ExperimentConfig, run_experiment
    from edgeq.phyff.plots import curves_png

    data, physical, epochs, deploy_s, fault_rate, methods, figure, *rest = CONFIGS[name]
    updates = rest[0] if rest else 1
    drift = None if deploy_s is None else DriftConfig(deploy_s=deploy_s, fault_rate=fault_rate,
                                                      backprop_updates=updates)
    out: dict = {"data": data, "physical": physical, "epochs": epochs, "deploy_s": deploy_s, "fault_rate": fault_rate,
                 "backprop_updates": updates, "methods": list(methods), "seeds": seeds, "load_average": [],
                 "training": {}}
    if drift is not None:
        out["deployment"] = {"checkpoints": drift.checkpoints, "online_steps": drift.online_steps, "curves": {},
                             "online_physical_passes": {}, "recalibration_passes": []}
    for seed in seeds:
        out["load_average"].append(round(os.getloadavg()[0], 2))
        cfg = ExperimentConfig(data=data, physical=physical, epochs=epochs, seed=seed, methods=methods, drift=drift)
        results, _ = run_experiment(cfg)
        for m in methods:
            res = results["methods"][m]
            rec = out["training"].setdefault(m, {"label": METHOD_LABELS[m], "final": [], "best": [],
                                                 "physical_passes": [], "digital_macs": [], "train_wall_s": []})
            rec["final"].append(res["test_accuracy"])
            rec["best"].append(max(p["test_accuracy"] for p in res["curve"]))
            rec["physical_passes"].append(res["physical_passes"])
            rec["digital_macs"].append(res["digital_macs"])
            rec["train_wall_s"].append(results["timing"]["train_wall_s"][m])
        if drift is not None:
            dep, res = out["deployment"], results["drift"]
            dep.update(times_s=res["times_s"], fault_at_s=res["fault_at_s"], online_batches=res["online_batches"],
                       labels=res["labels"])
            for m, acc in res["accuracy"].items():
                dep["curves"].setdefault(m, []).append(acc)
            for m, n in res["online_physical_passes"].items():
                dep["online_physical_passes"].setdefault(m, []).append(n)
            dep["recalibration_passes"].append(res["recalibration_passes"])
        if figures and figure and seed == seeds[0]:
            stable = {k: v for k, v in results.items() if k != "timing"}
            (ROOT / "docs" / figure).write_bytes(curves_png(stable))
        ends = results["drift"]["accuracy"] if drift is not None else {
            m: [r["test_accuracy"]] for m, r in results["methods"].items()}
        print(f"{name} seed {seed}: " + ", ".join(f"{m} {100 * a[-1]:.1f}%" for m, a in ends.items()), flush=True)
    return out


def _pm(values, scale: float = 100.0, digits: int = 1, unit: str = "%") -> str:
    v = scale * np.asarray(values, dtype=float)
    std = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return f"{v.mean():.{digits}f} +- {std:.{digits}f}{unit}"


def _count(values) -> str:
    v = sorted(set(values))
    return f"{v[0]:,}" if len(v) == 1 else f"{min(v):,}-{max(v):,}"


def _macs(values) -> str:
    v = sorted(set(values))
    return f"{v[0]:.2e}" if len(v) == 1 else f"{min(v):.2e}-{max(v):.2e}"


def _duration(seconds: float) -> str:
    if seconds >= 86400 * 300:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / 3600:g} h"


def render_training(results: dict) -> str:
    """Return the markdown table of training results (test accuracy on the hardware) over seeds."""
    lines = ["| data | physical layer | method | test acc. (final) | best epoch | physical passes (training) "
             "| digital MACs (training) | training wall s |", "|---|---|---|---|---|---|---|---|"]
    for run in results["runs"].values():
        if run.get("backprop_updates", 1) > 1:  # the same training as its base configuration (same seeds)
            continue
        phys = PHYSICAL_NAMES.get(run["physical"], run["physical"])
        for m in TRAIN_ORDER:
            if m in run["training"]:
                r = run["training"][m]
                lines.append(f"| {run['data']} | {phys} | {r['label']} | {_pm(r['final'])} | {_pm(r['best'])} | "
                             f"{_count(r['physical_passes'])} | {_macs(r['digital_macs'])} | "
                             f"{_pm(r['train_wall_s'], 1.0, 1, '')} |")
    return "\n".join(lines)


def _after_fault(dep: dict) -> int:
    times = dep["times_s"]
    if dep["fault_at_s"] is None:
        return len(times) // 2
    return next(i for i, t in enumerate(times) if t >= dep["fault_at_s"])


def _deploy_passes(dep: dict, m: str) -> str:
    passes = _count(dep["online_physical_passes"].get(m, [0]))
    if m.endswith("recal"):
        return f"{passes} + {_count(dep['recalibration_passes'])} probes (oracle)"
    return passes


def render(results: dict) -> str:
    """Return the markdown table of the deployment phase over seeds (every configuration that has one)."""
    lines = ["| data | physical layer | deployment | faults | method | start | after the fault | end | lowest "
             "| physical passes in deployment |", "|---|---|---|---|---|---|---|---|---|---|"]
    for run in results["runs"].values():
        dep = run.get("deployment")
        if dep is None:
            continue
        k = _after_fault(dep)
        faults = f"+{100 * run['fault_rate']:.0f}% at {_duration(dep['fault_at_s'])}"
        updates = run.get("backprop_updates", 1)
        deployment = _duration(run["deploy_s"]) + (f", BP {updates} updates per batch" if updates > 1 else "")
        for m in DEPLOY_ORDER:
            if m in dep["curves"]:
                cs = dep["curves"][m]
                lines.append(f"| {run['data']} | {run['physical']} | {deployment} | {faults} | "
                             f"{dep['labels'][m]} | {_pm([c[0] for c in cs])} | {_pm([c[k] for c in cs])} | "
                             f"{_pm([c[-1] for c in cs])} | {_pm([min(c) for c in cs])} | {_deploy_passes(dep, m)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma list of {', '.join(CONFIGS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--figures", action="store_true", help="rewrite the docs figures from the first seed")
    parser.add_argument("--figures-only", action="store_true",
                        help="only redraw the docs figures (first seed); the results file is left alone")
    parser.add_argument("--render", nargs="?", const="deployment", choices=("training", "deployment"))
    args = parser.parse_args()
    if args.render:
        results = json.loads(RESULTS.read_text())
        print(render_training(results) if args.render == "training" else render(results))
        return
    from edgeq.io import write_json
    from edgeq.phyff.runner import thread_limit

    names = args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {', '.join(CONFIGS)}")
    if args.figures_only:
        with thread_limit(1):
            for name in names:
                if CONFIGS[name][6]:  # the figure
                    run_config(name, [int(args.seeds.split(",")[0])], True)
        return
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runs = old.get("runs", {})
    with thread_limit(1):
        for name in names:
            runs[name] = run_config(name, [int(s) for s in args.seeds.split(",")], args.figures)
            ordered = {n: runs[n] for n in CONFIGS if n in runs}
            write_json(RESULTS, {"settings": "3 blocks of 256, cosine goodness (theta 4), random wrong-label "
                                 "negatives, Adam lr 2e-3, batch 64, 3 inner steps (FF), one thread",
                                 "std": "sample (ddof=1)", "runs": ordered})
    print(json.dumps({n: {m: round(float(np.mean([c[-1] for c in cs])), 4)
                          for m, cs in runs[n]["deployment"]["curves"].items()}
                      for n in names if "deployment" in runs[n]}))


if __name__ == "__main__":
    main()
