"""Quantization without calibration data: dynamic int8, as onnxruntime's `quantize_dynamic` writes it.

Conv stays in float: onnxruntime's ConvInteger has no fast CPU kernel (the digits CNN took 22.4 ms with it against
0.54 ms in FP32, batch 64), and int8 Conv weights behind a DequantizeLinear still cost 2.6x FP32 there (1.39 ms),
because the float Conv then loses its prepacked NCHWc weights.

Weights become int8 codes per output channel at export; activations are quantized at run time, per tensor, by
DynamicQuantizeLinear (uint8, range from the tensor itself, zero included), then MatMulInteger / ConvInteger
accumulate in int32, and one Mul by (activation scale x weight scale) returns to float. onnxruntime fuses the
MatMul form into DynamicQuantizeMatMul. Nothing needs calibration, so `edgeq quantize model.onnx --fmt int8`
works on its own; the report says what calibration data would add (static int8 runs every op as an integer
kernel, with no per-run range search).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..graph.plan import TensorQuant
from ..graph.points import QuantNode, find_points
from ..graph.util import initializer_map
from ..metrics import sqnr_db
from .config import QuantConfig
from .planner import weight_entry, weight_format

DYNAMIC_OPS = ("MatMul", "Gemm")
# names of the nodes edgeq writes for one quantized op (dynamic here, MatMulNBits in weight_only)
WRITTEN_SUFFIXES = ("_DynamicQuantizeLinear", "_ConvInteger", "_MatMulInteger", "_Cast", "_ScaleMul", "_Mul",
                    "_BiasAdd", "_MatMulNBits")


def dynamic_fake_quant(x: np.ndarray) -> np.ndarray:
    """Return x as DynamicQuantizeLinear then dequantization compute it: uint8, per tensor, range includes 0."""
    x = np.asarray(x, np.float32)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255.0))
    if scale == 0:
        return np.zeros_like(x)
    zp = np.clip(np.rint(np.float32(0.0) - np.float32(lo) / scale), 0, 255)
    q = np.clip(np.rint(x / scale) + zp, 0, 255)
    return ((q - zp) * scale).astype(np.float32)


def dynamic_nodes(model: onnx.ModelProto, config: QuantConfig) -> list[QuantNode]:
    """Return the MatMul/Gemm/Conv nodes with one float activation and a constant weight that go dynamic."""
    inits = initializer_map(model.graph)
    by_name = {n.name: n for n in model.graph.node}
    out = []
    for qn in find_points(model, config.exclude).nodes:
        if qn.op_type not in DYNAMIC_OPS or not qn.weight or len(qn.acts) != 1 or qn.channel_axis is None:
            continue
        rank = len(inits[qn.weight].dims)
        attrs = {a.name: helper.get_attribute_value(a) for a in by_name[qn.name].attribute}
        if qn.op_type in ("MatMul", "Gemm") and rank != 2 or attrs.get("transA", 0):
            continue
        out.append(qn)
    return out


def export_dynamic(model: onnx.ModelProto, config: QuantConfig) -> tuple[onnx.ModelProto, list[TensorQuant], dict]:
    """Return (dynamic-int8 model, weight entries, stored bytes per weight); the input model is not modified."""
    model_q = onnx.ModelProto()
    model_q.CopyFrom(model)
    graph = model_q.graph
    inits = initializer_map(graph)
    chosen = {qn.name: qn for qn in dynamic_nodes(model, config)}
    entries, stored, new_inits, dropped = [], {}, [], set()
    quantized_inputs: dict[str, tuple[str, str, str]] = {}
    ordered = []
    for node in graph.node:
        qn = chosen.get(node.name)
        if qn is None:
            ordered.append(node)
            continue
        w = numpy_helper.to_array(inits[qn.weight]).astype(np.float32)
        entry = weight_entry(qn, w, weight_format(qn, config), config)
        entries.append(entry)
        x = qn.acts[0]
        if x not in quantized_inputs:
            quantized_inputs[x] = (f"{x}_dyn_q", f"{x}_dyn_scale", f"{x}_dyn_zp")
            ordered.append(helper.make_node("DynamicQuantizeLinear", [x], list(quantized_inputs[x]),
                                            name=f"{x}_DynamicQuantizeLinear"))
        nodes, tensors, stored[qn.weight] = _integer_op(node, qn, w, entry, quantized_inputs[x], inits)
        ordered.extend(nodes)
        new_inits.extend(tensors)
        dropped.update(i for i in node.input[1:] if i in inits)
    still_used = {i for n in ordered for i in n.input}
    kept = [t for t in graph.initializer if t.name not in dropped or t.name in still_used]
    del graph.node[:]
    graph.node.extend(ordered)
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    return model_q, entries, stored


def _integer_op(node, qn: QuantNode, w: np.ndarray, entry: TensorQuant, xq: tuple[str, str, str], inits):
    """Return (nodes, initializers, stored bytes) computing `node` with int8 weights on the run-time uint8 input."""
    p, y = node.name or qn.weight, node.output[0]
    scale = np.asarray(entry.scale, np.float32)
    codes = np.rint(w / _expand(scale, w.ndim, entry.axis)).astype(np.int8)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    bias = None
    if node.op_type == "Conv":
        kw = {k: v for k, v in attrs.items() if k in ("auto_pad", "dilations", "group", "kernel_shape", "pads",
                                                         "strides")}
        core = helper.make_node("ConvInteger", [xq[0], f"{p}_wq", xq[2]], [f"{p}_acc"], name=f"{p}_ConvInteger", **kw)
        w_scale = scale.reshape([-1] + [1] * (w.ndim - 2))
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32).reshape(w_scale.shape)
    else:
        if node.op_type == "Gemm" and attrs.get("transB", 0):
            codes = codes.T  # MatMulInteger takes B as [K, N]; the per-channel scales stay one per output column
        w_scale = scale.reshape(-1)
        if node.op_type == "Gemm":
            w_scale = (w_scale * np.float32(attrs.get("alpha", 1.0))).astype(np.float32)
            if len(node.input) > 2 and node.input[2]:
                bias = (numpy_helper.to_array(inits[node.input[2]]) * attrs.get("beta", 1.0)).astype(np.float32)
        core = helper.make_node("MatMulInteger", [xq[0], f"{p}_wq", xq[2]], [f"{p}_acc"], name=f"{p}_MatMulInteger")
    out = f"{p}_scaled" if bias is not None else y
    nodes = [
        core,
        helper.make_node("Cast", [f"{p}_acc"], [f"{p}_acc_f"], name=f"{p}_Cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", [xq[1], f"{p}_w_scale"], [f"{p}_scale"], name=f"{p}_ScaleMul"),
        helper.make_node("Mul", [f"{p}_acc_f", f"{p}_scale"], [out], name=f"{p}_Mul"),
    ]
    tensors = [numpy_helper.from_array(codes, f"{p}_wq"), numpy_helper.from_array(w_scale, f"{p}_w_scale")]
    if bias is not None:
        nodes.append(helper.make_node("Add", [out, f"{p}_bias"], [y], name=f"{p}_BiasAdd"))
        tensors.append(numpy_helper.from_array(bias, f"{p}_bias"))
    return nodes, tensors, codes.nbytes + w_scale.nbytes


def _expand(scale: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    if scale.ndim == 0 or axis is None:
        return scale
    shape = [1] * ndim
    shape[axis] = -1
    return scale.reshape(shape)


def reference_inputs(entries: list[TensorQuant], nodes: list[QuantNode], params: dict[str, np.ndarray]):
    """Return (transforms, params) making edgeq's staged simulation compute the dynamic model."""
    transforms = {qn.acts[0]: dynamic_fake_quant for qn in nodes}
    fq = {e.tensor: e.apply(params[e.tensor].astype(np.float32)) for e in entries}
    return transforms, fq


def weight_rows(entries: list[TensorQuant], params: dict[str, np.ndarray], fq: dict[str, np.ndarray],
                stored: dict[str, int], exported_as: str | dict[str, str]) -> dict[str, dict]:
    """Return the report's per-weight rows: format, scales, SQNR vs FP32, stored bytes, how it is written."""
    rows = {}
    for e in entries:
        row = e.describe()
        row.update(node="", sqnr_db=sqnr_db(params[e.tensor].astype(np.float32), fq[e.tensor]),
                   stored_bytes=stored[e.tensor],
                   exported_as=exported_as if isinstance(exported_as, str) else exported_as[e.tensor])
        rows[e.tensor] = row
    return rows


__all__ = ["DYNAMIC_OPS", "WRITTEN_SUFFIXES", "dynamic_fake_quant", "dynamic_nodes", "export_dynamic", "reference_inputs", "weight_rows"]
