"""The `edgeq` command line: a thin click group; each subcommand lives in its own module and holds no logic."""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import UserError

# name -> module under edgeq.cli that defines `command`. Imported only when used, so `edgeq --help` stays fast.
COMMANDS: dict[str, str] = {
    "formats": "formats_cmd",
    "cost": "cost_cmd",
    "quantize": "quantize_cmd",
    "simulate": "simulate_cmd",
    "phyff": "phyff_cmd",
    "ramp-adc": "ramp_adc_cmd",
    "sweep": "sweep_cmd",
    "qat": "qat_cmd",
    "gate": "gate_cmd",
}

EPILOG = """\b
Examples:
  edgeq formats                      list every number format and its exact properties
  edgeq formats --json               the same as JSON
  edgeq cost model.onnx --fmt int8 --tech 7nm   energy, area, latency, TOPS/W with cited sources
  edgeq quantize m.onnx --fmt int8 --calib c.npz --eval e.npz   PTQ with a measured, runtime-checked report
  edgeq simulate examples/digits_mlp.onnx --hw pcm --eval examples/digits_eval.npz   accuracy on analog crossbars vs drift time
  edgeq phyff train --data digits --physical crossbar:rram --layers 3   forward-forward on hardware vs backprop
  edgeq ramp-adc -f tanh -b 5 --preset chip   ramp NL-ADC design: error vs f, over chips, vs linear ADC + LUT
  edgeq sweep run SPEC --workers 2   accuracy-vs-cost Pareto sweep (resumable; --storage to scale out)
  edgeq qat model.py:build --data train.npz --fmt fp8_e4m3 --epochs 3   quantization-aware training
  edgeq gate run gate.yaml           fail CI when accuracy/SQNR/cost regress against a committed baseline
"""


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        return importlib.import_module(f"{__name__}.{COMMANDS[name]}").command


@click.group(cls=_LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgeq")
def cli() -> None:
    """edgeq: how should this network run on edge hardware? Answers with measurements."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 a check failed, 2 bad input (one line on stderr)."""
    try:
        result = cli.main(args=argv, prog_name="edgeq", standalone_mode=False)
    except UserError as err:
        click.echo(f"edgeq: error: {err}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("edgeq: aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2 if isinstance(err, click.UsageError) else err.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
