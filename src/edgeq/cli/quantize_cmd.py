"""`edgeq quantize`: post-training quantization of an ONNX model, with the measured report."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from ..errors import UserError
from ..io import check_distinct_paths, check_new_output, write_files

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
@click.option("--calib", default=None, help="Calibration data: .npz (one array per input, leading sample axis), .npy, a "
              "folder of per-run .npz feeds, a folder of images, or file.py:function yielding feed dicts.")
@click.option("--calib-random", is_flag=True, help="Calibrate on random normal inputs when no --calib (warns).")
@click.option("--eval", "eval_path", default=None,
              help="Evaluation data like --calib, plus `labels` for accuracy (default: the calibration data).")
@click.option("--image-size", default=None, help="Images: resize to HxW (default: the model input's static size).")
@click.option("--image-layout", type=click.Choice(["NCHW", "NHWC"]), default="NCHW", show_default=True,
              help="Images: tensor layout.")
@click.option("--image-mean", default="0,0,0", show_default=True, help="Images: per-channel mean after scaling to [0,1].")
@click.option("--image-std", default="1,1,1", show_default=True, help="Images: per-channel std after scaling to [0,1].")
@click.option("--bgr", is_flag=True, help="Images: BGR channel order (OpenCV-trained models).")
@click.option("--calib-method", default="minmax", show_default=True, help="minmax, percentile:99.99, mse, entropy.")
@click.option("--exclude", multiple=True, help="Node name or op type to keep in float (repeatable).")
@click.option("--max-drop", type=float, default=None, help="Mixed precision: largest accuracy drop in pp.")
@click.option("--min-sqnr", type=float, default=None, help="Mixed precision: smallest logit SQNR in dB.")
@click.option("--target", default="ort-cpu", show_default=True,
              help="Runtime preset: ort-cpu (uint8 x int8, full-range weights where this CPU has VNNI/AMX), tensorrt "
              "(symmetric int8/FP8 E4M3, float bias), qnn (uint8/uint16 x int8), generic (portable 7-bit weights).")
@click.option("--full-range-int8", is_flag=True, help="Use all 8 weight bits with 8-bit activations even where "
              "the target would keep a 7-bit range (exact only on CPUs with VNNI/AMX).")
@click.option("--no-guard", is_flag=True, help="Quantize every op, even those that amplify their own quantization "
              "noise (by default they stay float, named in the report).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds random calibration data; same seed, same bytes.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output model (default MODEL.<fmt>.onnx beside the input).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as JSON here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a PNG bar chart of per-tensor SQNR here.")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--strict", is_flag=True, help="Exit 1 when onnxruntime differs from edgeq's reference simulation, and "
              "refuse (exit 2) to leave any op in float that edgeq cannot quantize.")
@click.option("--sensitivity", is_flag=True, help="Also measure each op alone (output SQNR with only that op "
              "quantized, on 32 samples); the default report already names the tensors to blame.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(model, fmt, weights, acts, granularity, calib, calib_random, eval_path, image_size, image_layout,
            image_mean, image_std, bgr, calib_method, exclude, max_drop, min_sqnr, target, full_range_int8, no_guard,
            seed, output, report_path, plot_path, force, strict, sensitivity, as_json, quiet) -> int:
    """Quantize an ONNX model (PTQ) and report accuracy, SQNR, runtime fidelity, size and latency."""
    from ..ptq import QuantConfig, quantize

    label = fmt if not (weights or acts) else f"w{weights or 'preset'}_a{acts or 'preset'}"
    output = output or model.with_name(f"{model.stem}.{label}.onnx")
    _check_writable({"-o/--output": output, "--report": report_path, "--plot": plot_path}, force,
                    {"MODEL": model, "--calib": calib, "--eval": eval_path})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        config = QuantConfig.from_options(
            fmt, weights=weights, acts=acts, granularity=granularity, calib_method=calib_method, exclude=exclude,
            seed=seed, max_drop=max_drop, min_sqnr=min_sqnr, kernel_safe_int8=False if full_range_int8 else None,
            target=target, amplifier_guard=not no_guard,
        )
        image = _image_preprocess(image_size, image_layout, image_mean, image_std, bgr)
        result = quantize(model, config, calib=calib, calib_random=calib_random, eval=eval_path, image=image,
                          sensitivity=sensitivity, strict=strict, progress=not quiet)
    for w in caught:
        click.echo(f"edgeq: warning: {w.message}", err=True)
    from ..graph.save import EXTERNAL_LIMIT, save_model, tensor_bytes

    files = []
    if tensor_bytes(result.model) > EXTERNAL_LIMIT:  # over one protobuf's 2 GB: OUT.onnx + OUT.onnx.data
        save_model(result.model, output, external=True)
    else:
        files.append((output, result.model.SerializeToString()))
    if report_path is not None:
        files.append((report_path, result.report.to_json()))
    if plot_path is not None:
        from ..ptq.report import plot_png

        files.append((plot_path, plot_png(result.report)))
    # One group: a failure (or a run racing us to the same path without --force) leaves none of them new.
    if files:
        write_files(files, exclusive=not force)
    if as_json:
        click.echo(result.report.to_json(), nl=False)
    else:
        result.report.render()
        click.echo(f"wrote {output}" + (f" and {report_path}" if report_path else ""))
    return 1 if strict and not result.report.fidelity_ok else 0


def _check_writable(outputs: dict, force: bool, inputs: dict) -> None:
    """Refuse outputs that are an input or each other (also via `..` or links), exist without --force, or sit in
    a missing or read-only folder; all before any work is done."""
    check_distinct_paths(outputs, inputs)
    for flag, path in outputs.items():
        if path is not None:
            check_new_output(path, force, flag)


def _floats(text: str, what: str, n: int) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise UserError(f"{what} takes {n} comma-separated numbers, got {text!r}")
    return values


def _image_preprocess(size, layout, mean, std, bgr):
    from ..feeds import ImagePreprocess

    hw = None
    if size:
        h, _, w = size.lower().partition("x")
        if not (h.isdigit() and w.isdigit()):
            raise UserError(f"--image-size takes HxW, e.g. 224x224, got {size!r}")
        hw = (int(h), int(w))
    return ImagePreprocess(hw, layout, bgr, 1.0 / 255.0, _floats(mean, "--image-mean", 3),
                           _floats(std, "--image-std", 3))
