"""`edgeq quantize`: post-training quantization of an ONNX model, with the measured report."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import click

from ..errors import UserError

EXAMPLES = """\b
Examples:
  edgeq quantize model.onnx --fmt int8                      (no data: dynamic int8)
  edgeq quantize model.onnx --fmt int8 --calib calib.npz --target tensorrt
  edgeq quantize llm.onnx --weights int4 --acts float -o llm.int4.onnx   (MatMulNBits)
  edgeq quantize model.onnx --fmt int8 --calib calib.npz --eval eval.npz
  edgeq quantize model.onnx --fmt fp8_e4m3 --calib calib.npz --calib-method mse
  edgeq quantize model.onnx --weights int4 --acts uint8 --granularity block:32 --calib calib.npz
  edgeq quantize model.onnx --fmt int4 --calib calib.npz --eval eval.npz --max-drop 0.5
"""



@click.command(epilog=EXAMPLES)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fmt", default="int8", show_default=True, help="int8, int4 (W4A8), fp8/fp8_e4m3, fp8_e5m2, fp8_e3m4, "
              "fp8_e2m5, fp6_e3m2, fp4, mxfp4, ... (`edgeq formats`).")
@click.option("--weights", default=None, help="Weight format (overrides --fmt), e.g. int4.")
@click.option("--acts", default=None, help="Activation format (overrides --fmt), e.g. uint8, int8, fp8_e4m3.")
@click.option("--granularity", default="channel", show_default=True, help="Weight scales: tensor, channel, block:N.")
@click.option("--calib", type=click.Path(path_type=Path), default=None, help=".npz (one array per input) or folder of .npy.")
@click.option("--calib-random", is_flag=True, help="Calibrate on random normal inputs when no --calib (warns).")
@click.option("--eval", "eval_path", type=click.Path(path_type=Path), default=None,
              help="Evaluation data like --calib, plus `labels` for accuracy (default: the calibration data).")
@click.option("--calib-method", default="minmax", show_default=True, help="minmax, percentile:99.99, mse, entropy.")
@click.option("--exclude", multiple=True, help="Node name or op type to keep in float (repeatable).")
@click.option("--max-drop", type=float, default=None, help="Mixed precision: largest accuracy drop in pp.")
@click.option("--min-sqnr", type=float, default=None, help="Mixed precision: smallest logit SQNR in dB.")
@click.option("--target", default="ort-cpu", show_default=True,
              help="Runtime preset: ort-cpu (uint8 x int8, full-range weights where this CPU has VNNI/AMX), tensorrt "
              "(symmetric int8/FP8 E4M3, float bias), qnn (uint8/uint16 x int8), generic (portable 7-bit weights).")
@click.option("--full-range-int8", is_flag=True, help="Use all 8 weight bits with 8-bit activations even where "
              "the target would keep a 7-bit range (exact only on CPUs with VNNI/AMX).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds random calibration data; same seed, same bytes.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output model (default MODEL.<fmt>.onnx beside the input).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as JSON here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a PNG bar chart of per-tensor SQNR here.")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--strict", is_flag=True, help="Exit 1 when onnxruntime differs from edgeq's reference simulation.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(model, fmt, weights, acts, granularity, calib, calib_random, eval_path, calib_method, exclude, max_drop,
            min_sqnr, target, full_range_int8, seed, output, report_path, plot_path, force, strict, as_json, quiet) -> int:
    """Quantize an ONNX model (PTQ) and report accuracy, SQNR, runtime fidelity, size and latency."""
    from ..ptq import QuantConfig, quantize

    label = fmt if not (weights or acts) else f"w{weights or 'preset'}_a{acts or 'preset'}"
    output = output or model.with_name(f"{model.stem}.{label}.onnx")
    for path in [p for p in (output, report_path, plot_path) if p is not None]:
        _check_writable(path, force, model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        config = QuantConfig.from_options(
            fmt, weights=weights, acts=acts, granularity=granularity, calib_method=calib_method, exclude=exclude,
            seed=seed, max_drop=max_drop, min_sqnr=min_sqnr, kernel_safe_int8=False if full_range_int8 else None, target=target,
        )
        result = quantize(model, config, calib=calib, calib_random=calib_random, eval=eval_path, progress=not quiet)
    for w in caught:
        click.echo(f"edgeq: warning: {w.message}", err=True)
    result.save(output, report_path)
    if plot_path is not None:
        from ..io import atomic_write_bytes
        from ..ptq.report import plot_png

        atomic_write_bytes(plot_path, plot_png(result.report))
    if as_json:
        click.echo(result.report.to_json(), nl=False)
    else:
        result.report.render()
        click.echo(f"wrote {output}" + (f" and {report_path}" if report_path else ""))
    return 1 if strict and not result.report.fidelity_ok else 0


def _check_writable(path: Path, force: bool, model: Path) -> None:
    if path.resolve() == model.resolve():
        raise UserError(f"output {path} is the input model; choose another output path")
    if path.exists() and not force:
        raise UserError(f"output {path} exists; pass --force to overwrite or -o to choose another path")
    if not path.parent.is_dir():
        raise UserError(f"output folder {path.parent} does not exist; create it or choose another path")
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"output folder {path.parent} is not writable; choose another output path")
