"""`evaluate`: run an ONNX model as it is in onnxruntime, optionally with its weights fake-quantized to a format or
perturbed by seeded noise, and report accuracy, agreement and SQNR against the unmodified model.

Needs nothing but onnxruntime and edgeq.formats, so any team can gate a plain model (a new training run, a new
export) without the quantizer; the weight options make quick format and robustness checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ...data import load_data
from ...errors import UserError
from ...formats import BlockFormat, fake_quant, get_format
from ...formats.granularity import choose_scale
from ...graph.load import load_model
from ...graph.ops import WEIGHT_OPS, WeightRole, weight_role
from ...metrics import sqnr_db, top1_accuracy, top1_agreement
from ..config import CaseSpec
from ._inputs import ort_session, require

_OPTIONS = {"weights", "weight_noise"}


def run_evaluate(case: CaseSpec, seed: int) -> dict[str, float]:
    """Return accuracy/agreement (fractions) and SQNR (dB) of the (optionally modified) model, plus its size and params."""
    unknown = sorted(set(case.options) - _OPTIONS)
    if unknown:
        raise UserError(f"case {case.name!r}: evaluate has no option(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(sorted(_OPTIONS))}")
    model_path = require(case.model, "model", case.name, "evaluate")
    eval_path = require(case.eval, "eval", case.name, "evaluate")
    model_bytes = Path(model_path).read_bytes()
    model = load_model(model_bytes, check=False)
    session = ort_session(model_bytes)
    feeds, labels = load_data(eval_path, model, "eval")  # names, shapes, dtypes checked against the model
    reference = session.run(None, feeds)[0]
    weights = _weight_initializers(model)
    metrics: dict[str, float] = {
        "size_bytes": float(len(model_bytes)),
        "param_count": float(sum(int(np.prod(t.dims)) for t in model.graph.initializer)),
    }
    modified = _modify_weights(model, weights, case.options, np.random.default_rng(seed))
    output = reference if modified is None else ort_session(modified.SerializeToString()).run(None, feeds)[0]
    if labels is not None:
        metrics["accuracy"] = top1_accuracy(output, labels)
    if modified is not None:
        metrics["agreement"] = top1_agreement(reference, output)
        metrics["sqnr_db"] = float(sqnr_db(reference, output))
    return metrics


def _weight_initializers(model: onnx.ModelProto) -> dict[str, WeightRole | None]:
    """Return initializer name -> weight role (its output-channel and block axes, from graph.ops) for the weights
    of Conv/ConvTranspose/Gemm/MatMul nodes; the role is None for layouts the table does not cover."""
    inits = {t.name: t for t in model.graph.initializer}
    weights: dict[str, WeightRole | None] = {}
    for node in model.graph.node:
        if node.op_type in WEIGHT_OPS and len(node.input) > 1 and node.input[1] in inits:
            weights[node.input[1]] = weight_role(node, len(inits[node.input[1]].dims))
    return weights


def _modify_weights(model: onnx.ModelProto, weights: dict[str, WeightRole | None], options: dict,
                    rng: np.random.Generator):
    """Return a copy of the model with weights fake-quantized and/or noised, or None when no option asks for it."""
    fmt, noise = options.get("weights"), options.get("weight_noise")
    if fmt is None and noise is None:
        return None
    if fmt is not None:
        try:
            get_format(str(fmt))
        except ValueError as err:
            raise UserError(f"evaluate option weights: {err}") from None
    if noise is not None and (isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0):
        raise UserError(f"evaluate option weight_noise must be a number >= 0 (relative sigma), got {noise!r}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for tensor in out.graph.initializer:
        if tensor.name not in weights:
            continue
        w = numpy_helper.to_array(tensor).astype(np.float32)
        if noise:
            # Relative to the tensor's largest weight, as a conductance range maps the largest |w| to Gmax.
            w = w + rng.standard_normal(w.shape).astype(np.float32) * np.float32(noise * np.abs(w).max())
        if fmt is not None:
            w = fake_quant_weight(w, str(fmt), weights[tensor.name])
        tensor.CopyFrom(numpy_helper.from_array(w.astype(np.float32), tensor.name))
    return out


def fake_quant_weight(w: np.ndarray, fmt: str, role: WeightRole | None) -> np.ndarray:
    """Return w fake-quantized with one absmax scale per output channel, on the axis the op's role names (Conv 0,
    ConvTranspose 1, Gemm 0 with transB else 1, MatMul the last); one scale per tensor where no axis holds the
    output channels. MX formats take their power-of-two block scales along the input-channel axis."""
    spec = get_format(fmt)
    if isinstance(spec, BlockFormat):
        axis = role.block_axis if role is not None else w.ndim - 1
        return np.asarray(fake_quant(w, spec, axis=axis), dtype=np.float32)
    axis = role.channel_axis if role is not None else None
    scale = choose_scale(w, spec, axis=axis)
    return np.asarray(fake_quant(w, spec, scale=scale, axis=axis), dtype=np.float32)
