"""`edgeq ramp-adc`: design a ramp NL-ADC for an activation and report its error, ideal and over programmed chips."""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..errors import UserError
from ..io import dumps_json, write_json

EXAMPLES = """\b
Examples:
  edgeq ramp-adc --function tanh --bits 5
  edgeq ramp-adc -f sigmoid -b 3 -b 5 -b 8 --preset chip --chips 50
  edgeq ramp-adc -f exp --x-range -8 0 --json -o ramp.json
"""


@click.command(epilog=EXAMPLES)
@click.option("-f", "--function", default="tanh", show_default=True,
              help="tanh, sigmoid, hard_sigmoid, relu_clip, softsign or exp.")
@click.option("-b", "--bits", "bits_list", type=int, multiple=True, help="ADC bits (repeatable; default 3 4 5 8).")
@click.option("--preset", default="ideal", show_default=True, help="Non-idealities: ideal, chip (RRAM), chip_verified, chip_multi, chip_two_step, noisy or pcm.")
@click.option("--x-range", type=float, nargs=2, default=None, help="Input span lo hi (for unbounded functions).")
@click.option("--chips", default=20, show_default=True, help="Programmed chip instances to draw when noisy.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result (also written with -o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON result here.")
@click.option("--force", is_flag=True, help="Overwrite an existing -o file.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (and --json).")
def command(function: str, bits_list: tuple[int, ...], preset: str, x_range, chips: int, seed: int,
            as_json: bool, output: Path | None, force: bool, quiet: bool) -> int:
    """Program a ramp NL-ADC for f (ramp steps = f^-1 of level midpoints) and compare it with a linear ADC + LUT."""
    from edgeq.simulators.ramp_adc import RampADC, get_preset
    from edgeq.simulators.ramp_report import ramp_summary

    if chips < 1:
        raise UserError("--chips must be >= 1")
    if x_range is not None:
        lo, hi = x_range
        if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)) or hi <= lo:
            raise UserError(f"--x-range {lo:g} {hi:g}: give finite lo < hi whose span is finite (e.g. -8 0)")
    if output is not None and output.exists() and not force:
        raise UserError(f"{output} exists; pass --force to overwrite it or choose another -o/--output")
    from edgeq.hw_models.analog import adc_cost

    rows = []
    for b in bits_list or (3, 4, 5, 8):
        adc = RampADC(get_preset(preset, bits=b, function=function, x_range=x_range))
        row = ramp_summary(adc, chips, seed)
        g_s = adc.device_targets_us() * 1e-6
        cost = adc_cost(b, "memristor_ramp", ramp_conductances_s=g_s, ramp_devices=g_s.size,
                        coarse_bits=adc.config.coarse_bits)
        rows.append({**row, "energy_pj": cost.energy_pj, "ramp_column_pj": cost.parts["ramp column"]})
    if output is not None:
        write_json(output, rows)
    if as_json:
        click.echo(dumps_json(rows), nl=False)
    if as_json or quiet:
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ramp NL-ADC for {function} (preset {preset}); errors vs exact f over the input span")
    for col in ("bits", "steps", "G ratio", "max err", "rms err", "lin max", "lin rms", "chip rms", "flips", "devices",
                "cycles", "pJ/conv"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["bits"]), str(r["ramp_steps"]), f"{r['conductance_ratio_max_min']:.1f}",
                      f"{r['ideal_max_abs_error']:.4f}", f"{r['ideal_rms_error']:.4f}",
                      f"{r['linear_lut_max_abs_error']:.4f}", f"{r['linear_lut_rms_error']:.4f}",
                      f"{r['chip_rms_error_mean']:.4f}±{r['chip_rms_error_std']:.4f}",
                      f"{100 * r['codes_differing_from_ideal']:.1f}%", str(r["ramp_devices"]), str(r["cycles"]),
                      f"{r['energy_pj']:.2f}")
    Console(width=max(Console().width, 140)).print(table)
    click.echo(f"G ratio: largest/smallest ramp conductance; lin: linear ADC + LUT at the same bits; chip rms: mean ± "
               f"std over {rows[0]['chips']} programmed chips; flips: codes differing from the ideal ramp; devices: "
               "ramp memristors; pJ/conv: Walden conversion + ramp-column read energy (edgeq.hw_models.adc_cost)")
    return 0
