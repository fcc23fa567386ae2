"""`edgeq qat`: quantization-aware training of a torch model defined in Python."""

from __future__ import annotations

from pathlib import Path

import click

EXAMPLES = """\b
Examples:
  edgeq qat model.py:build --data train.npz --eval eval.npz --fmt fp8_e4m3 --epochs 3
  edgeq qat model.py:build --data train.npz --fmt fp8_e4m3 --convert-to int8
  edgeq qat model.py:build --data train.npz --weights int4 --acts int8 --learn-scales --out qat_out

Trust: MODEL (FILE.py:factory) is Python code that edgeq imports and runs with your permissions, like
pytest's conftest.py. Run only model files you trust.
"""


@click.command(epilog=EXAMPLES)
@click.argument("model")
@click.option("--data", required=True, help=".npz with one input array and 'labels' (training set).")
@click.option("--eval", "eval_data", default=None, help="Held-out .npz like --data (default: the training data).")
@click.option("--fmt", default="int8", show_default=True, help="Format of weights and activations (`edgeq formats`).")
@click.option("--weights", default=None, help="Weight format (overrides --fmt).")
@click.option("--acts", default=None, help="Activation format (overrides --fmt; 'float' keeps them float).")
@click.option("--granularity", default="channel", show_default=True, type=click.Choice(["tensor", "channel"]))
@click.option("--epochs", default=3, show_default=True, type=int)
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--learn-scales", is_flag=True, help="Train the quantization scales too (LSQ-style).")
@click.option("--calib-size", default=256, show_default=True, type=int, help="Training samples used to calibrate.")
@click.option("--convert-to", default=None, help="After training, re-quantize the trained weights to this format "
              "(e.g. int8: the FP8-trained -> INT8 path) and report the change.")
@click.option("--onnx", "export_onnx", is_flag=True, help="Also write qat_model.onnx (needs --out) and check it "
              "in onnxruntime against the QAT model.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Folder for qat_model.pt and the report.")
@click.option("--no-progress", is_flag=True)
def command(model, data, eval_data, fmt, weights, acts, granularity, epochs, lr, batch_size, learn_scales,
            calib_size, convert_to, export_onnx, seed, out, no_progress) -> int:
    """Quantization-aware training of MODEL (FILE.py:factory returning a torch.nn.Module)."""
    from ..qat.runner import run_qat
    from ..qat.train import FitConfig

    _validate(model, data, eval_data, epochs, lr, batch_size, calib_size, export_onnx, out)

    result = run_qat(model, data, eval_data, weights or fmt, acts or fmt, granularity,
                     FitConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed), learn_scales, calib_size,
                     out, progress=not no_progress, convert_to=convert_to,
                     export_onnx=export_onnx)
    click.echo(f"weights {result.weights}, activations {result.acts}, {result.granularity} scales, {epochs} epochs")
    click.echo(f"accuracy  FP32 {100 * result.fp32_acc:.2f}%   PTQ {100 * result.ptq_acc:.2f}%   "
               f"QAT {100 * result.qat_acc:.2f}%")
    click.echo(f"logit SQNR vs FP32  PTQ {result.logit_sqnr_db_ptq:.1f} dB   QAT {result.logit_sqnr_db_qat:.1f} dB")
    if result.converted:
        c = result.converted
        click.echo(f"converted to {c['format']}: accuracy {100 * c['acc']:.2f}% ({c['acc_change_pp']:+.2f} pp vs QAT), "
                   f"logit SQNR {c['sqnr_db_vs_qat']:.1f} dB vs QAT, {c['sqnr_db_vs_fp32']:.1f} dB vs FP32")
    for mode, f in (result.onnx_fidelity or {}).items():
        click.echo(f"{mode}: top-1 agreement {100 * f['agreement']:.1f}%, SQNR {f['sqnr_db']:.1f} dB vs "
                   f"the QAT model ({'ok' if f['ok'] else 'MISMATCH'})")
    for path in result.outputs:
        click.echo(f"wrote {path}")
    return 0


def _validate(model, data, eval_data, epochs, lr, batch_size, calib_size, export_onnx, out) -> None:
    """Refuse bad numbers and output paths in one line before any training starts."""
    import math

    from ..errors import UserError
    from ..io import check_distinct_paths

    if not (math.isfinite(lr) and lr > 0):
        raise UserError(f"--lr must be a finite number > 0, got {lr}")
    for flag, value, low in (("--batch-size", batch_size, 1), ("--epochs", epochs, 0), ("--calib-size", calib_size, 1)):
        if value < low:
            raise UserError(f"{flag} must be >= {low}, got {value}")
    if export_onnx and out is None:
        raise UserError("--onnx writes qat_model.onnx into the --out folder; pass --out FOLDER")
    if out is not None:
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} is a file; give a folder for qat_model.pt and the report")
        names = ("qat_model.pt", "qat_model.onnx", "qat_report.json")
        check_distinct_paths({f"--out {out / n}": out / n for n in names},
                             {"MODEL": model.rpartition(":")[0] or model, "--data": data, "--eval": eval_data})
