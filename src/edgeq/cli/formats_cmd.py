"""`edgeq formats`: the table of number formats."""

from __future__ import annotations

import json

import click

from ..formats import format_names, get_format, list_formats
from ..formats.spec import BlockFormat
from ..errors import UserError

EXAMPLES = """\b
Examples:
  edgeq formats
  edgeq formats --json
  edgeq formats --fmt e3m4b5 --fmt mxfp4
"""


def describe(fmt) -> dict:
    """Return a format's properties as a JSON-ready dict."""
    row = {
        "name": fmt.name,
        "kind": fmt.kind,
        "bits": fmt.bits,
        "max": fmt.max,
        "min_normal": fmt.min_normal,
        "min_subnormal": fmt.min_subnormal,
        "num_finite": fmt.num_finite,
        "has_inf": fmt.has_inf,
        "has_nan": fmt.has_nan,
        "signed_zero": fmt.signed_zero,
    }
    if fmt.kind == "float":
        row.update(exp_bits=fmt.exp_bits, man_bits=fmt.man_bits, bias=fmt.effective_bias, specials=fmt.specials.value)
    if isinstance(fmt, BlockFormat):
        row.update(element=fmt.element.name, block_size=fmt.block_size, bits_per_element=fmt.bits_per_element)
    return row


@click.command(epilog=EXAMPLES)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--fmt", "names", multiple=True, help="Only these formats (registry or generic names like e3m4b5).")
def command(as_json: bool, names: tuple[str, ...]) -> int:
    """List number formats with their exact properties (max, smallest normal/subnormal, finite values, specials)."""
    try:
        formats = [get_format(n) for n in names] if names else list_formats()
    except ValueError as err:
        raise UserError(str(err)) from None
    rows = [describe(f) for f in formats]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"edgeq number formats ({len(format_names())} registered; any eXmY\\[bBIAS] also works)")
    for col in ("name", "bits", "max", "min normal", "min subnormal", "finite values", "inf", "nan", "-0"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for r in rows:
        table.add_row(
            r["name"], str(r["bits"]), f"{r['max']:.6g}", f"{r['min_normal']:.6g}", f"{r['min_subnormal']:.6g}",
            str(r["num_finite"]), _yes(r["has_inf"]), _yes(r["has_nan"]), _yes(r["signed_zero"]),
        )
    Console().print(table)
    return 0


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"
