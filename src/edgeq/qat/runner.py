"""What `edgeq qat` does: load a model factory from a .py file, QAT it on .npz data, measure, save."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from ..io import atomic_write_bytes, atomic_write_text, load_arrays
from ..metrics import sqnr_db
from .export import export_qat
from .prepare import calibrate, convert, prepare
from .train import FitConfig, fit


def load_factory(spec: str) -> nn.Module:
    """Return the nn.Module built by `path/to/file.py:function` (the function takes no arguments)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path.endswith(".py") or not name:
        raise UserError(f"model must be FILE.py:factory (a function returning an nn.Module), got {spec!r}")
    file = Path(path)
    if not file.is_file():
        raise UserError(f"model file {file} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"edgeq_user_model_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(file.resolve().parent))  # let the file import its neighbours
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: report, don't crash with a traceback
        raise UserError(f"importing {file} failed: {type(err).__name__}: {err}") from None
    finally:
        sys.path.remove(str(file.resolve().parent))
    factory = getattr(module, name, None)
    if not callable(factory):
        raise UserError(f"{file} has no function {name!r}")
    model = factory()
    if not isinstance(model, nn.Module):
        raise UserError(f"{spec}() returned {type(model).__name__}, expected a torch.nn.Module")
    return model


def load_xy(path: str | Path, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (inputs, labels) from an .npz with one input array plus `labels`."""
    arrays = load_arrays(path)
    labels = arrays.pop("labels", None)
    if labels is None or len(arrays) != 1:
        raise UserError(f"{what} data {path} must hold exactly one input array plus 'labels' (has {sorted(arrays)})")
    x = next(iter(arrays.values()))
    if len(x) != len(labels):
        raise UserError(f"{what} data {path}: {len(x)} inputs but {len(labels)} labels")
    x_t = torch.from_numpy(np.ascontiguousarray(x))
    return (x_t.float() if x_t.is_floating_point() else x_t), torch.from_numpy(labels.astype(np.int64))


@dataclass
class QATRun:
    """The measured outcome of one `edgeq qat` run."""

    weights: str | None
    acts: str | None
    granularity: str
    epochs: int
    fp32_acc: float
    ptq_acc: float
    qat_acc: float
    logit_sqnr_db_ptq: float
    logit_sqnr_db_qat: float
    epoch_loss: list[float] = field(default_factory=list)
    converted: dict | None = None
    onnx_fidelity: dict | None = None
    outputs: list[str] = field(default_factory=list)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, np.ndarray]:
    with torch.no_grad():
        logits = torch.cat([model(chunk) for chunk in x.split(512)]).numpy()
    return float(np.mean(logits.reshape(-1, logits.shape[-1]).argmax(1) == y.numpy().reshape(-1))), logits


def _numpy_scalar(value):
    """json default: NumPy scalars (bool_, float64) as Python values."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def run_qat(model_spec: str, data: str, eval_data: str | None, weights: str | None, acts: str | None,
            granularity: str, fit_config: FitConfig, learn_scales: bool, calib_size: int, out_dir: Path | None,
            progress: bool = True, convert_to: str | None = None, export_onnx: bool = False) -> QATRun:
    """QAT the factory's model on `data`, evaluate on `eval_data` (or the training data), save into out_dir.

    With `convert_to` (e.g. "int8"), the trained weights are also re-quantized to that format by PTQ (the
    FP8-trained -> INT8 path) and the change is measured: accuracy, and logit SQNR against the QAT model and FP32.
    With `export_onnx` the QAT model is also written as ONNX (QDQ / fake-quant) and checked in onnxruntime.
    """
    torch.manual_seed(fit_config.seed)
    model = load_factory(model_spec).eval()
    x, y = load_xy(data, "training")
    input_name = next(iter(k for k in load_arrays(data) if k != "labels"))
    xe, ye = load_xy(eval_data, "eval") if eval_data else (x, y)
    fp32_acc, ref = _accuracy(model, xe, ye)
    qmodel = prepare(model, weights, acts, granularity, learn_scales=learn_scales)
    calibrate(qmodel, [x[:calib_size]])
    ptq_acc, ptq_logits = _accuracy(qmodel, xe, ye)
    history = fit(qmodel, x, y, fit_config, progress=progress, desc=f"qat {weights}/{acts}")
    qat_acc, qat_logits = _accuracy(qmodel, xe, ye)
    result = QATRun(weights, acts, granularity, fit_config.epochs, fp32_acc, ptq_acc, qat_acc,
                    sqnr_db(ref, ptq_logits), sqnr_db(ref, qat_logits), history)
    if convert_to is not None:
        converted = convert(qmodel, [x[:calib_size]], convert_to, convert_to, granularity)
        conv_acc, conv_logits = _accuracy(converted, xe, ye)
        result.converted = {"format": convert_to, "acc": conv_acc, "acc_change_pp": 100 * (conv_acc - qat_acc),
                            "sqnr_db_vs_qat": sqnr_db(qat_logits, conv_logits),
                            "sqnr_db_vs_fp32": sqnr_db(ref, conv_logits)}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        import io

        buf = io.BytesIO()
        torch.save(qmodel.state_dict(), buf)
        atomic_write_bytes(out_dir / "qat_model.pt", buf.getvalue())
        result.outputs = [str(out_dir / "qat_model.pt")]
        if export_onnx:
            exported = export_qat(qmodel, xe[:256], input_name=input_name)
            atomic_write_bytes(out_dir / "qat_model.onnx", exported.model.SerializeToString())
            result.onnx_fidelity = {mode: f.to_dict() for mode, f in exported.fidelity.items()}
            result.onnx_fidelity["edgeq_simulation"] = exported.simulation.to_dict()
            result.outputs.append(str(out_dir / "qat_model.onnx"))
        result.outputs.append(str(out_dir / "qat_report.json"))
        atomic_write_text(out_dir / "qat_report.json", json.dumps(asdict(result), indent=1, default=_numpy_scalar) + "\n")
    return result
