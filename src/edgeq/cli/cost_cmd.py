"""`edgeq cost`: hardware cost (energy, area, latency, TOPS/W) of one MAC or a whole ONNX model, with sources."""

from __future__ import annotations

import click

from ..errors import UserError
from ..io import atomic_write_text, dumps_json
from . import deprecated_alias

DEFAULT_TECH = "7nm"  # edgeq.hw_models.scaling.DEFAULT_TECH, repeated so `edgeq --help` does not import the cost model

EXAMPLES = """\b
Examples:
  edgeq cost --mac fp8_e4m3 --acc fp16              gates, energy and area of one MAC
  edgeq cost --mac int4 --act int8 --tech 7nm       a W4A8 MAC at 7 nm
  edgeq cost --mac int8 --mac fp8_e4m3 --mac mxint8 a table of MACs
  edgeq cost --fig3                                 our MAC gate counts beside van Baalen et al. Fig. 3
  edgeq cost --tile nl-ramp5 --tech 16nm            one analog tile: read energy, TOPS/W, TOPS, area
  edgeq cost model.onnx --fmt int8 --fmt fp8_e4m3   compare formats on a digital accelerator
  edgeq cost model.onnx --fmt int8 --target analog --preset nl-ramp5 --tech 16nm
  edgeq cost model.onnx --plan report.json --json   a per-layer precision plan (or an `edgeq quantize` report)
  edgeq cost model_qdq.onnx --fmt auto              the formats a quantized (QDQ) model carries
  edgeq cost ocr.onnx --eval sample.npz -o cost.json   size a model with dynamic shapes from sample inputs
"""


@click.command(epilog=EXAMPLES)
@click.argument("model", required=False, type=click.Path(dir_okay=False))
@click.option("--fmt", "fmts", multiple=True,
              help="Format of weights and activations (repeat to compare); 'auto' reads a QDQ model's own formats.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), help="Precision plan or quantize report JSON.")
@click.option("--acc", default=None, help="Accumulator: int32, kulisch, fp16, bf16, fp32 (default int32 / fp32).")
@click.option("--tech", default=DEFAULT_TECH, show_default=True, help="CMOS node, 7nm-180nm.")
@click.option("--target", type=click.Choice(["digital", "analog"]), default="digital", show_default=True)
@click.option("--preset", "hw", default=None,
              help="Hardware preset: digital edge-npu|mcu|datacenter; analog sar8|sar5|ramp5|nl-ramp5|isaac-like.")
@click.option("--hw", "hw_alias", default=None, hidden=True, help="Deprecated alias of --preset.")
@click.option("--batch", default=1, show_default=True, help="Batch size for dynamic batch dimensions.")
@click.option("--eval", "eval_path", type=click.Path(dir_okay=False),
              help=".npz with sample model inputs; sizes models whose shapes ONNX shape inference leaves unknown.")
@click.option("--mac", "mac_fmts", multiple=True, help="Cost a MAC with this weight format (repeat for a table).")
@click.option("--act", "act_fmt", default=None, help="Activation format for --mac (default: same as --mac).")
@click.option("--tile", "tile_name", default=None, help="Cost one analog tile preset (sar8, nl-ramp5, ...).")
@click.option("--rows", type=int, default=None, help="Analog tile rows (overrides the preset).")
@click.option("--cols", type=int, default=None, help="Analog tile columns (overrides the preset).")
@click.option("--adc-bits", type=int, default=None, help="Analog ADC bits (overrides the preset).")
@click.option("--dac-bits", type=int, default=None, help="Analog DAC bits (overrides the preset).")
@click.option("--adc-kind", type=click.Choice(["sar", "ramp", "memristor_ramp"]), default=None,
              help="Analog ADC kind (overrides the preset).")
@click.option("--fig3", is_flag=True, help="Print our reproduction of van Baalen et al. Fig. 3.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result (also written with -o).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write the JSON result to this file.")
@click.option("--out", "out_alias", type=click.Path(dir_okay=False), hidden=True, help="Deprecated alias of -o.")
@click.option("--force", is_flag=True, help="Overwrite an existing -o file.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (and --json).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a per-layer energy PNG.")
def command(model, fmts, plan_path, acc, tech, target, hw, hw_alias, batch, eval_path, mac_fmts, act_fmt, tile_name,
            rows, cols, adc_bits, dac_bits, adc_kind, fig3, as_json, out, out_alias, force, quiet, plot) -> int:
    """Energy, area, latency and TOPS/W of a MAC, an analog tile or an ONNX model, with the sources of every number."""
    from pathlib import Path

    from edgeq.hw_models import mac_cost, network_cost, report, tile_preset

    hw = deprecated_alias(hw, hw_alias, "--hw", "--preset")
    out = deprecated_alias(out, out_alias, "--out", "-o/--output")
    if out and Path(out).exists() and not force:
        raise UserError(f"{out} exists; pass --force to overwrite it or choose another -o/--output")
    quiet = quiet and not as_json

    overrides = {k: v for k, v in dict(rows=rows, cols=cols, adc_bits=adc_bits, dac_bits=dac_bits,
                                       adc_kind=adc_kind).items() if v is not None}
    if tile_name or (target == "analog" and overrides):
        try:
            tile = tile_preset(tile_name or hw, tech=tech, **overrides)
        except (ValueError, TypeError) as err:
            raise UserError(str(err)) from None
        if tile_name:
            summary = report.tile_summary(tile)
            rows_out = [(k, f"{v:.4g}") for k, v in summary["read_energy_breakdown_pj"].items()]
            rows_out += [("read cycles", str(summary["read_cycles"])), ("TOPS/W", f"{summary['tops_per_w']:.4g}"),
                         ("peak TOPS", f"{summary['peak_tops']:.4g}"), ("area um^2", f"{summary['area_um2']:.4g}")]
            title = (f"tile {tile.name}: {tile.rows}x{tile.cols}, {tile.adc_bits}-bit {tile.adc_kind} ADC, "
                     f"{tile.dac_bits}-bit DAC, {tile.tech}, {tile.clock_hz / 1e9:g} GHz")
            _emit(summary, as_json, out, quiet, lambda: _table(title, ("read energy pJ / metric", "value"), rows_out))
            return 0
        hw = tile

    if fig3:
        rows = report.fig3_rows()
        payload = [dict(zip(("mac", "ours_gates", "paper_gates", "error"), r)) for r in rows]
        _emit(payload, as_json, out, quiet, lambda: _table("van Baalen et al. Fig. 3: gates per MAC",
                                                     ("MAC", "edgeq", "paper", "error"), rows))
        return 0
    if len(mac_fmts) > 1:
        try:
            macs = [mac_cost(f, act_fmt, acc, tech=tech) for f in mac_fmts]
        except ValueError as err:
            raise UserError(str(err)) from None
        rows = [(f"{c.weight_fmt} x {c.act_fmt}", c.acc_fmt, f"{c.gates:.0f}", f"{c.energy_pj:.4g}",
                 f"{c.area_um2:.4g}") for c in macs]
        _emit([c.to_dict() for c in macs], as_json, out, quiet,
              lambda: (_table(f"MACs at {macs[0].tech_nm:g} nm", ("MAC", "accumulator", "gates", "energy pJ",
                                                                 "area um^2"), rows),
                       _footer([macs[0].scaling.describe(), macs[0].derivation])))
        return 0
    if mac_fmts:
        try:
            cost = mac_cost(mac_fmts[0], act_fmt, acc, tech=tech)
        except ValueError as err:
            raise UserError(str(err)) from None
        title = (f"MAC {cost.weight_fmt} x {cost.act_fmt} -> {cost.acc_fmt} at {cost.tech_nm:g} nm: "
                 f"{cost.gates:.0f} gates, {cost.energy_pj:.4g} pJ, {cost.area_um2:.4g} um^2")
        _emit(cost.to_dict(), as_json, out, quiet, lambda: (_table(title, ("block", "gates"), report.mac_rows(cost)),
                                                     _footer([cost.scaling.describe(), cost.derivation])))
        return 0
    if not model:
        raise UserError("give a MODEL.onnx, or --mac FMT for one MAC, or --fig3")
    plans = [plan_path] if plan_path else list(fmts or ("int8",))
    feeds = _sample_inputs(eval_path) if eval_path else None
    costs = {}
    for plan in plans:
        label = plan if not plan_path else "plan"
        costs[label] = network_cost(model, plan, target=target, tech=tech, hw=hw, acc=acc, batch=batch, feeds=feeds)
    if plot:
        report.plot_layers(costs, plot)
    payload = {k: c.to_dict() for k, c in costs.items()} if len(costs) > 1 else next(iter(costs.values())).to_dict()

    def show():
        first = next(iter(costs.values()))
        for label, cost in costs.items():
            who = label if cost.target == "digital" else f"analog tiles (digital layers {label})"
            _table(f"{who} on {cost.target} ({cost.hw.get('name')}) at {cost.tech_nm:g} nm: "
                   f"{cost.energy_uj:.4g} uJ/inference, {cost.latency_ns / 1e3:.4g} us, "
                   f"{cost.area_um2 / 1e6:.4g} mm^2, {cost.tops_per_w:.3g} TOPS/W",
                   ("layer", "op", "precision", "MACs", "energy nJ", "latency ns", "area mm^2", "energy split"),
                   report.layer_rows(cost))
        if len(costs) > 1:
            _table("comparison", ("plan", "energy uJ", "vs first", "TOPS/W", "area mm^2"),
                   [(k, f"{c.energy_uj:.4g}", f"{c.energy_pj / first.energy_pj:.3g}x", f"{c.tops_per_w:.3g}",
                     f"{c.area_um2 / 1e6:.4g}") for k, c in costs.items()])
        _footer(list(first.notes))

    _emit(payload, as_json, out, quiet, show)
    return 0


def _sample_inputs(path: str) -> dict:
    """Return the first sample of every array in an .npz (the cost is per inference)."""
    from edgeq.io import load_arrays

    return {name: value[:1] if getattr(value, "ndim", 0) else value for name, value in load_arrays(path).items()}


def _emit(payload, as_json: bool, out: str | None, quiet: bool, show) -> None:
    text = dumps_json(payload)
    if out:
        atomic_write_text(out, text)
    if as_json:
        click.echo(text, nl=False)
    elif not quiet:
        show()


def _table(title: str, columns, rows) -> None:
    from rich.console import Console
    from rich.table import Table

    click.echo(title)
    table = Table()
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


def _footer(lines) -> None:
    for line in lines:
        click.echo(f"  - {line}")
