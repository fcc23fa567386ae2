"""Wall time for forward-forward on the hardware vs backprop (ideal twin) to reach the same test accuracy on digits.

Both train the same blocks on the same physical layers, one thread, interleaved in one run; accuracy is checked on
the hardware after every epoch and evaluation time is not counted. Prints one row per repeat, then the medians, and
as its last line a JSON object with the ratio FF / backprop (goal <= 2).

    .venv/bin/python benchmarks/bench_phyff.py [--target 0.95] [--physical wave] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics

from edgeq.phyff.data import load_dataset
from edgeq.phyff.hardware import make_hardware
from edgeq.phyff.model import BPNet, FFNet, NetConfig, input_width, resolve_embedding
from edgeq.phyff.runner import thread_limit
from edgeq.phyff.train import BPTrainer, FFTrainer, TrainConfig, accuracy


def time_to_target(trainer, net, data, target: float, max_epochs: int) -> tuple[float | None, int, float]:
    """Return (training seconds to reach target or None, epochs used, best accuracy)."""
    best = 0.0
    for epoch in range(1, max_epochs + 1):
        trainer.epoch(data.x_train, data.y_train)
        best = max(best, accuracy(net, data.x_test, data.y_test))
        if best >= target:
            return trainer.cost.wall_s, epoch, best
    return None, max_epochs, best


def run(args: argparse.Namespace) -> dict:
    """Run the repeats and return the JSON summary."""
    data = load_dataset("digits")
    net_cfg = NetConfig()
    width = input_width(data.n_features, data.n_classes,
                        resolve_embedding(net_cfg.embedding, data.n_features, data.n_classes))
    ff_cfg = TrainConfig(lr=args.lr, inner_steps=args.inner_steps, batch_size=args.batch_size)
    bp_cfg = TrainConfig()
    ratios, ff_times, bp_times = [], [], []
    print(f"digits, {args.physical}, 3 blocks of {net_cfg.hidden}, target {100 * args.target:.1f}% on the hardware")
    for seed in range(args.repeats):
        hardware = make_hardware(args.physical, width, net_cfg.hidden, 3, seed)
        ff = FFNet(hardware, data.n_features, data.n_classes, net_cfg, seed=seed)
        bp = BPNet(hardware, data.n_features, data.n_classes, net_cfg, seed=seed)
        bp_s, bp_ep, bp_acc = time_to_target(BPTrainer(bp, bp_cfg, seed, noisy=False), bp, data, args.target,
                                             args.max_epochs)
        ff_s, ff_ep, ff_acc = time_to_target(FFTrainer(ff, ff_cfg, seed), ff, data, args.target, args.max_epochs)
        print(f"seed {seed}: backprop {bp_s if bp_s is None else round(bp_s, 3)} s ({bp_ep} epochs, best "
              f"{100 * bp_acc:.1f}%)   FF {ff_s if ff_s is None else round(ff_s, 3)} s ({ff_ep} epochs, best "
              f"{100 * ff_acc:.1f}%)")
        if ff_s is not None and bp_s is not None:
            ratios.append(ff_s / bp_s)
            ff_times.append(ff_s)
            bp_times.append(bp_s)
    out = {"bench": "phyff", "target_accuracy": args.target, "physical": args.physical,
           "reached": f"{len(ratios)}/{args.repeats}"}
    if ratios:
        out.update(ff_s=round(statistics.median(ff_times), 3), bp_s=round(statistics.median(bp_times), 3),
                   ff_vs_bp_time=round(statistics.median(ratios), 3))
        print(f"median: FF {out['ff_s']} s, backprop {out['bp_s']} s, ratio {out['ff_vs_bp_time']}x (goal <= 2)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--physical", default="wave")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--inner-steps", type=int, default=TrainConfig().inner_steps)
    parser.add_argument("--lr", type=float, default=TrainConfig().lr)
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    args = parser.parse_args()
    with thread_limit(1):
        out = run(args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
