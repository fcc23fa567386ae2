"""The `edgeq` command line: a thin click group; each subcommand lives in its own module and holds no logic."""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import EXIT_CHECK_FAILED, EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, REPORT_URL, EdgeqError

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
  edgeq simulate examples/digits_mlp.onnx --preset pcm --eval examples/digits_eval.npz   accuracy on analog crossbars vs drift time
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


def deprecated_alias(value, alias, old: str, new: str):
    """Return `value`, or `alias` (the value of a deprecated flag) with a one-line warning that names its successor."""
    if alias is None:
        return value
    click.echo(f"edgeq: warning: {old} is deprecated; use {new}", err=True)
    return value or alias


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 a check failed, 2 bad input, 3 internal error (one line)."""
    try:
        result = cli.main(args=argv, prog_name="edgeq", standalone_mode=False)
    except EdgeqError as err:
        kind = {EXIT_USER_ERROR: "error", EXIT_CHECK_FAILED: "check failed"}.get(err.exit_code, "internal error")
        text = str(err).removeprefix("internal error ")
        click.echo(f"edgeq: {kind}: {text}" + ("" if kind != "internal error" else f" (please report it: {REPORT_URL})"),
                   err=True)
        return err.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("edgeq: aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2 if isinstance(err, click.UsageError) else err.exit_code
    except MemoryError:
        click.echo("edgeq: error: out of memory; use fewer or smaller samples (a smaller --calib set)", err=True)
        return EXIT_USER_ERROR
    except OSError as err:  # a full disk, a read-only folder: the environment, not edgeq
        click.echo(f"edgeq: error: {err.strerror or err} ({err.filename or 'no file name'}); "
                   "free space or choose a writable location", err=True)
        return EXIT_USER_ERROR
    except Exception as err:  # anything else is a bug: one line that names where, never a traceback
        click.echo(f"edgeq: internal error in {_where(err)}: {type(err).__name__}: {_first_line(err)} "
                   f"(please report it: {REPORT_URL})", err=True)
        return EXIT_INTERNAL_ERROR
    return result if isinstance(result, int) else 0


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def _where(err: BaseException) -> str:
    """Return module:function:line of the innermost edgeq frame of the traceback (where the bug is)."""
    tb, where = err.__traceback__, "edgeq"
    while tb is not None:
        code = tb.tb_frame.f_code
        if "edgeq" in code.co_filename or "/simulators/" in code.co_filename or "/hw_models/" in code.co_filename:
            module = tb.tb_frame.f_globals.get("__name__", code.co_filename)
            where = f"{module}.{code.co_name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


if __name__ == "__main__":
    sys.exit(main())
