"""`edgeq simulate`: accuracy and SQNR of an ONNX model on simulated analog crossbars, over drift time, with cost."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UserError
from . import deprecated_alias

EXAMPLES = """\b
Examples:
  edgeq simulate examples/digits_mlp.onnx --preset pcm --eval examples/digits_eval.npz
  edgeq simulate model.onnx --preset rram --eval data.npz --drift 1s,1h,1d,1y --repeats 10 --seed 1
  edgeq simulate model.onnx --preset rram --eval data.npz --wire-ohm 1 --json -o results.json
  edgeq simulate mobilenet.onnx --preset rram --eval data.npz --group-mapping per_group --out-dir runs/mb
  edgeq simulate lstm.onnx --preset rram --eval data.npz --rnn-activation ramp:5:chip
  edgeq simulate cnn.onnx --preset pcm_cal --calib calib.npz --eval data.npz   periphery calibrated as on chips
"""


def _presets() -> list[str]:
    from edgeq.simulators.presets import list_presets

    return list_presets()


def _default_tech() -> str:
    from edgeq.hw_models.scaling import DEFAULT_TECH

    return DEFAULT_TECH


@click.command(epilog=EXAMPLES)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--preset", default=None, help=f"Crossbar preset: {', '.join(_presets())}.")
@click.option("--hw", "hw_alias", default=None, hidden=True, help="Deprecated alias of --preset.")
@click.option(
    "--eval", "data", required=True, type=click.Path(path_type=Path), help=".npz with the model inputs (and labels)."
)
@click.option("--calib", "calib_path", type=click.Path(path_type=Path),
              help=".npz of inputs the periphery is calibrated on (rram_cal, pcm_cal); default: the first 32 "
                   "--eval samples.")
@click.option("--drift", default="1s,1h,1d,1y", show_default=True, help="Times after programming, comma-separated.")
@click.option(
    "--repeats", default=5, show_default=True, type=int, help="Monte-Carlo chips (fresh programming noise each)."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed: the same seed gives the same files.")
@click.option("--labels", "labels_key", default=None,
              help="Key of the labels in --eval (default: 'labels' if present).")
@click.option(
    "--wire-ohm", default=0.0, show_default=True, type=float, help="Word/bit-line segment resistance (IR drop)."
)
@click.option("--group-mapping", type=click.Choice(["block", "per_group"]), default=None,
              help="Grouped/depthwise Conv: groups block-diagonal within a tile, or one small tile per group "
                   "(default: the preset's, block).")
@click.option("--tech", default=_default_tech(), show_default=True, help="CMOS node of the periphery for the cost.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the results JSON to this file.")
@click.option("--out-dir", type=click.Path(path_type=Path),
              help="Folder for results.json and the PNG (default runs/simulate/MODEL-PRESET[-N], never overwritten).")
@click.option("--out", "out_alias", type=click.Path(path_type=Path), hidden=True, help="Deprecated alias of --out-dir.")
@click.option("--force", is_flag=True, help="Overwrite an earlier run in --out-dir or the -o file.")
@click.option("--json", "as_json", is_flag=True, help="Print the results JSON (files are written as well).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no table (errors and --json still print).")
@click.option(
    "--rnn-activation",
    default="exact",
    show_default=True,
    help="LSTM/GRU gate sigmoid/tanh: exact, ramp:BITS[:PRESET] (ramp NL-ADC) or linear:BITS[:PRESET] (ADC + LUT).",
)
def command(model, preset, hw_alias, data, calib_path, drift, repeats, seed, labels_key, wire_ohm, group_mapping, tech,
            output, out_dir, out_alias, force, as_json, quiet, rnn_activation) -> int:
    """Simulate MODEL with its weight-stationary products on analog crossbar tiles; report accuracy vs drift time."""
    import dataclasses

    from edgeq.io import dumps_json
    from edgeq.simulators.job import execute, payload, prepare_run, write_outputs

    preset = deprecated_alias(preset, hw_alias, "--hw", "--preset")
    out_dir = deprecated_alias(out_dir, out_alias, "--out", "--out-dir (a folder) or -o/--output (a file)")
    if preset is None:
        raise UserError(f"pass --preset, one of {', '.join(_presets())}")
    _check_tech(tech)
    run = prepare_run(model, preset, data, drift, repeats, seed, labels_key, wire_ohm, out_dir, output, force,
                      rnn_activation, calib_path)
    if group_mapping is not None:
        tile = dataclasses.replace(run.config.tile, group_mapping=group_mapping)
        run = dataclasses.replace(run, config=dataclasses.replace(run.config, tile=tile))
    result = execute(run, show_progress=not quiet)
    content = payload(run, result)
    content["cost"] = analog_cost(run, tech)
    written = write_outputs(run, content, result)
    if as_json:
        click.echo(dumps_json(content), nl=False)
    if quiet or as_json:
        return 0
    _show(model, result, repeats, seed, content["cost"], written)
    return 0


def _check_tech(tech: str) -> None:
    from edgeq.hw_models.scaling import parse_node

    try:
        parse_node(tech)
    except ValueError as err:
        raise UserError(f"--tech: {err}") from None


def analog_cost(run, tech: str) -> dict:
    """Return edgeq cost's analog summary for tiles like the simulated ones (the CLI composes simulator and cost)."""
    from edgeq.hw_models.analog import MacroConfig
    from edgeq.hw_models.report import cost_summary

    cfg = run.config
    # Ideal converters have no bit width: price them as the 8-bit converters the presets' ADCs default to.
    tile = MacroConfig(name=f"{cfg.name}-tiles", rows=cfg.tile.rows, cols=cfg.tile.cols, adc_bits=cfg.adc.bits or 8,
                       dac_bits=cfg.dac.bits or 8, differential=cfg.tile.mapping == "differential", tech=tech,
                       group_mapping=cfg.tile.group_mapping)
    try:
        return cost_summary(run.model, "int8", target="analog", tech=tech, hw=tile, feeds=one_inference(run))
    except UserError as err:  # a model the cost model cannot price still has its simulation reported
        return {"tech": tech, "error": str(err), "line": f"cost ({tech}): not available: {err}"}


def one_inference(run) -> dict:
    """Return the inputs of one inference: the first sample of inputs whose leading axis is the batch (dynamic,
    or fixed at 1 while the data holds more); state and scalar inputs with another fixed leading size stay whole."""
    dims = {i.name: i.type.tensor_type.shape.dim for i in run.model.graph.input}
    dynamic = {name for name, d in dims.items() if d and d[0].dim_value in (0, 1)}
    first = run.runs[0][0]
    return {name: value[:1] if name in dynamic and value.ndim else value for name, value in first.items()}


def _show(model: Path, result, repeats: int, seed: int, cost: dict, written) -> None:
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
    console.print(f"analog nodes: {_nodes_line(result.nodes)} (each node in results.json)")
    if result.digital_nodes:
        console.print("digital (float) matrix products: "
                      + "; ".join(f"{n.name} ({n.op_type}: {n.reason})" for n in result.digital_nodes))
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(cost["line"])
    console.print(f"wrote {', '.join(str(p) for p in written)}")


def _nodes_line(nodes) -> str:
    """Return one line: how many nodes of each op are on tiles, how many tiles, and the grouped layout's cost."""
    if not nodes:
        return "none (nothing mapped to tiles)"
    ops: dict[str, int] = {}
    for n in nodes:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    text = f"{len(nodes)} ({', '.join(f'{k} {v}' for k, v in ops.items())}), {sum(n.tiles for n in nodes)} tiles"
    grouped = [n for n in nodes if n.groups > 1]
    if grouped:
        used = [n.utilisation for n in grouped]
        text += (f"; {len(grouped)} grouped convs mapped {grouped[0].group_mapping} on {grouped[0].tile_rows}x"
                 f"{grouped[0].tile_cols} tiles: {sum(n.tiles for n in grouped)} tiles, {min(used):.1%}-"
                 f"{max(used):.1%} of their cells used")
    return text
