"""A fast built-in evaluator: weight-only fake quantization of an ONNX model, per layer, run with onnxruntime.

It needs nothing beyond edgeq.formats, so it screens formats and per-layer precision in tens of milliseconds per
trial. Config keys: `weights` (format for every layer, default "float"), `layer.<node name>` (a format for one
layer, overriding `weights`), `granularity` ("per_channel", default, or "per_tensor"). Weights become graph inputs
once, so each trial feeds new weights to one onnxruntime session instead of building a new one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import UserError
from ...formats import fake_quant, get_format, scale_for_range
from ...graph.load import load_model
from ...graph.ops import WEIGHT_OPS, weight_role
from ...graph.session import ort_session
from ...io import load_arrays
from ...metrics import sqnr_db, top1_accuracy


class WeightQuantEvaluator:
    """Accuracy, SQNR and weight memory of a model whose weights are fake-quantized per layer."""

    metrics = ("accuracy", "accuracy_float", "accuracy_drop_pp", "sqnr_db", "weight_kib")
    options = ("labels_key",)  # formats are config keys (space parameters), not options

    @staticmethod
    def canonical_config(config: dict[str, Any]) -> dict[str, Any]:
        """Return the config with per-layer formats equal to `weights` dropped (they change nothing)."""
        base = config.get("weights", "float")
        return {k: v for k, v in config.items() if not (k.startswith("layer.") and v in ("default", base))}

    def __init__(self, task) -> None:
        import onnx
        import onnxruntime as ort

        if task.data is None:
            raise UserError("the weights evaluator needs eval data; add data: FILE.npz (inputs and labels)")
        self.labels_key = task.options.get("labels_key", "labels")
        arrays = load_arrays(task.data)
        if self.labels_key not in arrays:
            raise UserError(f"data {task.data} has no {self.labels_key!r} array; set evaluator_options.labels_key")
        self.labels = arrays.pop(self.labels_key)
        self._models: dict[str, _PreparedModel] = {}
        self._arrays = arrays
        self._onnx, self._ort = onnx, ort
        self.task = task

    def layers(self, model_path: str) -> list[str]:
        """Return the names of the layers with quantizable weights, in graph order."""
        return list(self._prepared(model_path).weights)

    def evaluate(self, config: dict[str, Any]) -> dict[str, float]:
        """Return accuracy, float accuracy, accuracy drop (percentage points), logit SQNR (dB) and weight KiB."""
        model = self._prepared(self.task.model_path(config))
        default = config.get("weights", "float")
        axis_mode = config.get("granularity", "per_channel")
        unknown = [k[6:] for k in config if k.startswith("layer.") and k[6:] not in model.weights]
        if unknown:
            raise UserError(f"layer.{unknown[0]}: no such layer; layers: {', '.join(model.weights)}")
        feeds = dict(model.inputs)
        bits = 0.0
        for layer, (name, w, (axis, block_axis)) in model.weights.items():
            fmt = config.get(f"layer.{layer}", default)
            fmt = default if fmt == "default" else fmt
            q, b = _quantize(w, fmt, axis if axis_mode == "per_channel" else None, block_axis)
            feeds[name] = q
            bits += b
        logits = model.session.run([model.output], feeds)[0]
        acc = top1_accuracy(logits, self.labels)
        return {
            "accuracy": acc,
            "accuracy_float": model.accuracy_float,
            "accuracy_drop_pp": 100.0 * (model.accuracy_float - acc),
            "sqnr_db": min(sqnr_db(model.reference, logits), 200.0),
            "weight_kib": bits / 8192.0,
        }

    def _prepared(self, path: str) -> "_PreparedModel":
        if path not in self._models:
            self._models[path] = _prepare(path, self._arrays, self.labels, self._onnx, self._ort)
        return self._models[path]


class _PreparedModel:
    def __init__(self, session, output, inputs, weights, reference, accuracy_float):
        self.session, self.output, self.inputs = session, output, inputs
        self.weights, self.reference, self.accuracy_float = weights, reference, accuracy_float


def _prepare(path: str, arrays: dict, labels: np.ndarray, onnx, ort) -> _PreparedModel:
    model = load_model(path, check=False)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    weights: dict[str, tuple[str, np.ndarray, tuple[int | None, int]]] = {}
    for i, node in enumerate(graph.node):
        if node.op_type in WEIGHT_OPS and len(node.input) > 1 and node.input[1] in inits:
            w = onnx.numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
            role = weight_role(node, w.ndim)  # output-channel and input-channel axes from the one op table
            if role is None:
                continue
            weights[node.name or f"{node.op_type}_{i}"] = (node.input[1], w, (role.channel_axis, role.block_axis))
    if not weights:
        raise UserError(f"{path}: no Conv/Gemm/MatMul with a constant weight; nothing to quantize")
    # Weights become graph inputs so one session serves every trial.
    names = {name for name, _, _ in weights.values()}
    keep = [t for t in graph.initializer if t.name not in names]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    for name, w, _ in weights.values():
        graph.input.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, list(w.shape)))
    session = ort_session(model, "ort_default", threads=1)
    data_inputs = [i.name for i in session.get_inputs() if i.name not in names]
    missing = [n for n in data_inputs if n not in arrays]
    if missing:
        raise UserError(f"eval data has no array {missing[0]!r} for the model input of that name")
    inputs = {n: arrays[n].astype(np.float32) for n in data_inputs}
    output = session.get_outputs()[0].name
    reference = session.run([output], {**inputs, **{n: w for n, w, _ in weights.values()}})[0]
    return _PreparedModel(session, output, inputs, weights, reference, top1_accuracy(reference, labels))


def _quantize(w: np.ndarray, fmt_name: str, axis: int | None, block_axis: int) -> tuple[np.ndarray, float]:
    """Return the fake-quantized weight (per channel along `axis`, per tensor when None; MX blocks along
    `block_axis`) and its storage size in bits (scales included)."""
    if fmt_name == "float":
        return w, 32.0 * w.size
    try:
        fmt = get_format(fmt_name)
    except ValueError as err:
        raise UserError(f"weights format: {err}") from None
    if getattr(fmt, "block_size", None):
        q = fake_quant(w, fmt, axis=block_axis)
        return q.astype(np.float32), fmt.bits_per_element * w.size
    if axis is None:
        scale = scale_for_range(np.abs(w).max(), fmt)
        return fake_quant(w, fmt, scale=scale).astype(np.float32), fmt.bits * w.size + 32.0
    amax = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
    q = fake_quant(w, fmt, scale=scale_for_range(amax, fmt), axis=axis)
    return q.astype(np.float32), fmt.bits * w.size + 32.0 * w.shape[axis]
