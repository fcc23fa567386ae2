"""`edgeq phyff`: train physical networks without backprop (forward-forward) beside backprop baselines; evaluate."""

from __future__ import annotations

from pathlib import Path

import click

from ..io import dumps_json
from . import deprecated_alias

EXAMPLES = """\b
Examples:
  edgeq phyff train --data digits --physical crossbar:rram --layers 3 --epochs 10 --out-dir runs/ff
  edgeq phyff train --data vowels --physical wave --goodness sumsq --no-drift
  edgeq phyff eval runs/ff --time 7200 --faults 0.05
"""


@click.group(epilog=EXAMPLES)
def command() -> None:
    """Physical forward-forward: train networks whose layers are black-box hardware, with forward passes only."""


@command.command("train", epilog=EXAMPLES)
@click.option("--data", default="digits", show_default=True, help="digits, vowels or synthetic[:N:FEATURES:CLASSES]")
@click.option(
    "--physical",
    default="wave",
    show_default=True,
    help="wave[:NOISE], identity or crossbar:PRESET[:devices] (devices: new faults are stuck devices, not dead columns)",
)
@click.option("--layers", default=3, show_default=True, type=int, help="physical blocks")
@click.option("--hidden", default=256, show_default=True, type=int, help="width of each digital layer")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out-dir", default="runs/phyff", show_default=True, type=click.Path(path_type=Path),
              help="folder for results.json, timing.json, curves.png, weights.pt (an earlier run is kept unless "
                   "--force)")
@click.option("--out", "out_alias", default=None, hidden=True, type=click.Path(path_type=Path),
              help="deprecated alias of --out-dir")
@click.option("--force", is_flag=True, help="overwrite an earlier run in --out-dir")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar and no table")
@click.option("--goodness", default="cosine", show_default=True, type=click.Choice(["cosine", "sumsq", "meansq"]))
@click.option("--threshold", default=2.0, show_default=True, type=float, help="goodness threshold (sumsq/meansq)")
@click.option("--negatives", default="random", show_default=True, type=click.Choice(["random", "hardest"]))
@click.option("--embedding", default="auto", show_default=True, type=click.Choice(["auto", "overlay", "append"]))
@click.option("--no-skip", is_flag=True, help="drop the skip connection around each physical layer")
@click.option("--inner-steps", default=3, show_default=True, type=int, help="FF updates per batch of physical passes")
@click.option("--lr", default=2e-3, show_default=True, type=float)
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--methods", default="ff,bp,hwa", show_default=True, help="comma list of ff, bp, hwa")
@click.option("--train-drift-s", default=0.0, show_default=True, type=float,
              help="hardware seconds that pass per training epoch")
@click.option("--no-drift", is_flag=True, help="skip the deployment phase (drift, faults, online training)")
@click.option("--deploy-s", default=3600.0, show_default=True, type=float, help="deployment time on the hardware clock")
@click.option("--fault-rate", default=0.05, show_default=True, type=float,
              help="new faults half-way through deployment")
@click.option("--online-steps", default=10, show_default=True, type=int,
              help="labelled batches per deployment checkpoint, the same for FF and the online backprop baselines")
@click.option("--threads", default=1, show_default=True, type=int, help="torch threads")
def train(**opts) -> None:
    """Train FF on the hardware and the backprop baselines; write results.json, timing.json, curves.png, weights.pt."""
    from tqdm import tqdm

    from ..phyff.experiment import DriftConfig, ExperimentConfig, total_ticks
    from ..phyff.model import NetConfig
    from ..phyff.runner import thread_limit, train_to_dir
    from ..phyff.train import TrainConfig

    opts["out_dir"] = deprecated_alias(None, opts["out_alias"], "--out", "--out-dir") or opts["out_dir"]
    drift = None if opts["no_drift"] else DriftConfig(deploy_s=opts["deploy_s"], fault_rate=opts["fault_rate"],
                                                      online_steps=opts["online_steps"])
    cfg = ExperimentConfig(
        data=opts["data"], physical=opts["physical"], layers=opts["layers"], epochs=opts["epochs"],
        seed=opts["seed"], train_drift_s=opts["train_drift_s"],
        methods=tuple(m.strip() for m in opts["methods"].split(",") if m.strip()),
        net=NetConfig(hidden=opts["hidden"], goodness=opts["goodness"], threshold=opts["threshold"],
                      embedding=opts["embedding"], skip=not opts["no_skip"]),
        train=TrainConfig(epochs=opts["epochs"], batch_size=opts["batch_size"], lr=opts["lr"],
                          inner_steps=opts["inner_steps"], negatives=opts["negatives"]),
        drift=drift,
    )
    # disable=None: no bar when stderr is not a terminal, so logs and errors stay one line each
    bar = tqdm(total=total_ticks(cfg), desc="phyff", unit="step", leave=False, disable=True if opts["quiet"] else None)
    with bar, thread_limit(opts["threads"]):
        def progress(label: str, n: int) -> None:
            bar.set_postfix_str(label)
            bar.update(n)

        results = train_to_dir(cfg, opts["out_dir"], progress, force=opts["force"])
    if opts["quiet"]:
        return
    click.echo(f"{'method':<30} {'test acc':>8} {'phys. passes':>13} {'digital MACs':>13} {'train s':>8}")
    for method, res in results["methods"].items():
        click.echo(f"{res['label']:<30} {100 * res['test_accuracy']:>7.2f}% {res['physical_passes']:>13,} "
                   f"{res['digital_macs']:>13.3e} {results['timing']['train_wall_s'][method]:>8.2f}")
    if "drift" in results:
        drift_res = results["drift"]
        ends = ", ".join(f"{m} {100 * acc[-1]:.1f}%" for m, acc in drift_res["accuracy"].items())
        click.echo(f"after {drift_res['times_s'][-1]:.0f} s of drift: {ends}")
    click.echo(f"wrote {opts['out_dir']}/results.json, timing.json, curves.png, weights.pt")


@command.command("eval", epilog=EXAMPLES)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--time", "at_time", default=0.0, show_default=True, type=float, help="hardware seconds after training")
@click.option("--faults", default=0.0, show_default=True, type=float, help="fraction of broken elements")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--threads", default=1, show_default=True, type=int, help="torch/BLAS threads")
def evaluate(run_dir: Path, at_time: float, faults: float, as_json: bool, threads: int) -> None:
    """Evaluate the trained models of a run on its hardware at a given hardware time and fault rate."""
    from ..phyff.runner import eval_dir, thread_limit

    with thread_limit(threads):
        result = eval_dir(run_dir, at_time, faults)
    if as_json:
        click.echo(dumps_json(result), nl=False)
        return
    for method, acc in result["accuracy"].items():
        click.echo(f"{method:<9} {100 * acc:6.2f}%  (t = {at_time:g} s, faults {faults:g})")
