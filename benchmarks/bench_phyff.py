"""Wall time for forward-forward on the hardware vs backprop (ideal twin) to reach the same test accuracy on digits.

Both train the same blocks on the same physical layers, one thread, epoch by epoch in turns in one run; accuracy is
checked on the hardware after every epoch and evaluation time is not counted. Prints one row per repeat, then the
medians, and as its last line a JSON object with the ratio FF / backprop (goal <= 2).

    .venv/bin/python benchmarks/bench_phyff.py [--target 0.95] [--physical wave] [--repeats 3]
        [--batch-size 256 --lr 4e-3] [--bp-batch-size 256 --bp-lr 4e-3] [--inner-steps 3]
    .venv/bin/python benchmarks/bench_phyff.py --render      # the markdown table of docs/phyff.md

Each run is stored (under its settings) in benchmarks/results/bench_phyff.json, with the per-seed records.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

import numpy as np

from edgeq.phyff.data import load_dataset
from edgeq.phyff.hardware import make_hardware
from edgeq.phyff.model import BPNet, FFNet, NetConfig, input_width, resolve_embedding
from edgeq.phyff.runner import thread_limit
from edgeq.phyff.train import BPTrainer, FFTrainer, TrainConfig, accuracy

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "bench_phyff.json"


def race(runners: dict, data, target: float, max_epochs: int) -> dict:
    """Train the methods in turns, epoch by epoch (so machine load hits both alike), until each reaches target.

    Returns per method: epochs to target (None if never), the wall time of each epoch, best accuracy.
    """
    out = {m: {"epochs": None, "epoch_s": [], "best": 0.0} for m in runners}
    for epoch in range(1, max_epochs + 1):
        for method, (trainer, net) in runners.items():
            rec = out[method]
            if rec["epochs"] is not None:
                continue
            before = trainer.cost.wall_s
            trainer.epoch(data.x_train, data.y_train)
            rec["epoch_s"].append(trainer.cost.wall_s - before)
            rec["best"] = max(rec["best"], accuracy(net, data.x_test, data.y_test))
            if rec["best"] >= target:
                rec["epochs"] = epoch
        if all(rec["epochs"] is not None for rec in out.values()):
            break
    return out


def run(args: argparse.Namespace) -> dict:
    """Run the repeats and return the JSON summary.

    Time to target = epochs needed x the median wall time of that method's epochs (robust to load spikes on a
    shared machine); the plain sum of epoch times is printed beside it.
    """
    data = load_dataset("digits")
    net_cfg = NetConfig()
    width = input_width(data.n_features, data.n_classes,
                        resolve_embedding(net_cfg.embedding, data.n_features, data.n_classes))
    ff_cfg = TrainConfig(lr=args.lr, inner_steps=args.inner_steps, batch_size=args.batch_size)
    bp_cfg = TrainConfig(lr=args.bp_lr, batch_size=args.bp_batch_size)
    ratios, raw_ratios, ff_times, bp_times, per_seed = [], [], [], [], []
    print(f"digits, {args.physical}, 3 blocks of {net_cfg.hidden}, target {100 * args.target:.1f}% on the hardware; "
          f"FF batch {ff_cfg.batch_size} lr {ff_cfg.lr} x{ff_cfg.inner_steps} inner, "
          f"backprop batch {bp_cfg.batch_size} lr {bp_cfg.lr}")
    for seed in range(args.repeats):
        hardware = make_hardware(args.physical, width, net_cfg.hidden, 3, seed)
        ff = FFNet(hardware, data.n_features, data.n_classes, net_cfg, seed=seed)
        bp = BPNet(hardware, data.n_features, data.n_classes, net_cfg, seed=seed)
        res = race({"bp": (BPTrainer(bp, bp_cfg, seed, noisy=False), bp), "ff": (FFTrainer(ff, ff_cfg, seed), ff)},
                   data, args.target, args.max_epochs)
        row = []
        for m in ("bp", "ff"):
            r = res[m]
            med = statistics.median(r["epoch_s"])
            r["time"] = None if r["epochs"] is None else r["epochs"] * med
            r["raw"] = sum(r["epoch_s"])
            row.append(f"{m}: {r['epochs']} epochs x {med:.3f} s = "
                       f"{'-' if r['time'] is None else round(r['time'], 3)} s (sum {r['raw']:.3f} s, "
                       f"best {100 * r['best']:.1f}%)")
        print(f"seed {seed}: " + "   ".join(row))
        per_seed.append({"seed": seed, **{m: {k: res[m][k] for k in ("epochs", "epoch_s", "best", "time", "raw")}
                                          for m in ("ff", "bp")}})
        if res["ff"]["time"] is not None and res["bp"]["time"] is not None:
            ratios.append(res["ff"]["time"] / res["bp"]["time"])
            raw_ratios.append(res["ff"]["raw"] / res["bp"]["raw"])
            ff_times.append(res["ff"]["time"])
            bp_times.append(res["bp"]["time"])
    out = {"bench": "phyff", "target_accuracy": args.target, "physical": args.physical,
           "reached": f"{len(ratios)}/{args.repeats}",
           "settings": {"ff_batch": ff_cfg.batch_size, "ff_lr": ff_cfg.lr, "inner_steps": ff_cfg.inner_steps,
                        "bp_batch": bp_cfg.batch_size, "bp_lr": bp_cfg.lr},
           "load_average": round(os.getloadavg()[0], 2), "seeds": per_seed}
    if ratios:
        out.update(ff_s=round(statistics.median(ff_times), 3), bp_s=round(statistics.median(bp_times), 3),
                   ff_vs_bp_time=round(statistics.median(ratios), 3),
                   ff_vs_bp_time_raw=round(statistics.median(raw_ratios), 3))
        print(f"median: FF {out['ff_s']} s, backprop {out['bp_s']} s, ratio {out['ff_vs_bp_time']}x "
              f"(plain sums: {out['ff_vs_bp_time_raw']}x; goal <= 2)")
    return out


def render(results: dict) -> str:
    """Return the markdown table of the stored runs: epochs to target and FF / backprop time, mean +- std."""
    lines = ["| settings (FF / backprop) | seeds | FF epochs to target | backprop epochs | FF / backprop time "
             "(epochs x median epoch) | plain sums of epoch times | load average |", "|---|---|---|---|---|---|---|"]

    def pm(values, digits):
        v = np.asarray(values, dtype=float)
        return f"{v.mean():.{digits}f} +- {(np.std(v, ddof=1) if len(v) > 1 else 0.0):.{digits}f}"

    for run in results.values():
        done = [r for r in run["seeds"] if r["ff"]["time"] is not None and r["bp"]["time"] is not None]
        st = run["settings"]
        ratios = [r["ff"]["time"] / r["bp"]["time"] for r in done]
        raw = [r["ff"]["raw"] / r["bp"]["raw"] for r in done]
        lines.append(
            f"| batch {st['ff_batch']} / {st['bp_batch']}, lr {st['ff_lr']:g} / {st['bp_lr']:g}, target "
            f"{100 * run['target_accuracy']:.0f}% | {len(done)} of {len(run['seeds'])} reached | "
            f"{pm([r['ff']['epochs'] for r in done], 1)} | {pm([r['bp']['epochs'] for r in done], 1)} | "
            f"{pm(ratios, 2)}x (median {statistics.median(ratios):.2f}x) | "
            f"{pm(raw, 2)}x (median {statistics.median(raw):.2f}x) | {run['load_average']:g} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--physical", default="wave")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--inner-steps", type=int, default=TrainConfig().inner_steps)
    # Both methods get the same batch and learning rate by default; large batches cut FF's per-step overhead
    # (3 blocks x inner steps of Adam) most, and backprop also gets faster with them.
    parser.add_argument("--lr", type=float, default=4e-3, help="FF learning rate")
    parser.add_argument("--batch-size", type=int, default=256, help="FF batch")
    parser.add_argument("--bp-lr", type=float, default=4e-3, help="backprop learning rate")
    parser.add_argument("--bp-batch-size", type=int, default=256, help="backprop batch")
    parser.add_argument("--name", default=None, help="key of this run in the results file (default: its settings)")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(RESULTS.read_text())))
        return
    from edgeq.io import write_json

    with thread_limit(1):
        out = run(args)
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    stored[args.name or f"batch {args.batch_size}, lr {args.lr:g}"] = out
    write_json(RESULTS, stored)
    print(json.dumps({k: v for k, v in out.items() if k != "seeds"}))


if __name__ == "__main__":
    main()
