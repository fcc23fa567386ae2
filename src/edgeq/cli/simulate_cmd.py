"""`edgeq simulate`: accuracy and SQNR of an ONNX model on simulated analog crossbars, over drift time."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UserError

EXAMPLES = """\b
Examples:
  edgeq simulate examples/digits_mlp.onnx --hw pcm --eval examples/digits_eval.npz
  edgeq simulate model.onnx --hw rram --eval data.npz --drift 1s,1h,1d,1y --repeats 10 --seed 1
  edgeq simulate model.onnx --hw rram --eval data.npz --wire-ohm 1 --json
  edgeq simulate lstm.onnx --hw rram --eval data.npz --rnn-activation ramp:5:chip
"""


def _presets() -> list[str]:
    from edgeq.simulators.presets import list_presets

    return list_presets()


@click.command(epilog=EXAMPLES)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--hw", "preset", required=True, help=f"Hardware preset: {', '.join(_presets())}.")
@click.option(
    "--eval", "data", required=True, type=click.Path(path_type=Path), help=".npz with the model inputs (and labels)."
)
@click.option("--drift", default="1s,1h,1d,1y", show_default=True, help="Times after programming, comma-separated.")
@click.option(
    "--repeats", default=5, show_default=True, type=int, help="Monte-Carlo chips (fresh programming noise each)."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed: the same seed gives the same files.")
@click.option("--labels", "labels_key", default="labels", show_default=True, help="Key of the labels in --eval.")
@click.option(
    "--wire-ohm", default=0.0, show_default=True, type=float, help="Word/bit-line segment resistance (IR drop)."
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Folder for results.json and the PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result instead of the table.")
@click.option(
    "--rnn-activation",
    default="exact",
    show_default=True,
    help="LSTM/GRU gate sigmoid/tanh: exact, ramp:BITS[:PRESET] (ramp NL-ADC) or linear:BITS[:PRESET] (ADC + LUT).",
)
def command(model, preset, data, drift, repeats, seed, labels_key, wire_ohm, out_dir, as_json, rnn_activation) -> int:
    """Simulate MODEL with its MatMul/Gemm/Conv weights on analog crossbar tiles; report accuracy vs drift time."""
    from edgeq.simulators.simulate import prepare_run, run_simulation

    try:
        run = prepare_run(model, preset, data, drift, repeats, seed, labels_key, wire_ohm, out_dir, rnn_activation)
        result, cost, written = run_simulation(run)
    except ValueError as err:
        raise UserError(str(err)) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    from edgeq.simulators.report import table_rows

    fp32 = "no labels" if result.fp32_accuracy is None else f"FP32 accuracy {100 * result.fp32_accuracy:.2f}%"
    table = Table(title=f"{model.name} on '{result.preset}' crossbars", caption=f"{repeats} chips, seed {seed}; {fp32}")
    for col in ("time", "accuracy % (mean +- std)", "SQNR dB (mean +- std)"):
        table.add_column(col, justify="right")
    for row in table_rows(result):
        table.add_row(*row)
    console = Console()
    console.print(table)
    nodes = ", ".join(f"{n.name} ({n.in_features}x{n.out_features}, {n.tiles} tiles)" for n in result.nodes)
    console.print(f"analog nodes: {nodes or 'none (nothing mapped to tiles)'}")
    console.print(cost["line"])
    console.print(f"wrote {', '.join(str(p) for p in written)}")
    return 0
