"""Write a quantization plan into an ONNX graph: QuantizeLinear/DequantizeLinear where the format is native,
the exact fake-quant pattern of standard ops where it is not.

Weights and biases become stored codes plus a DequantizeLinear (or decode pattern); activations get a Q/DQ pair
(or pattern) right after the node producing them, and every consumer reads the dequantized tensor. Graph outputs
keep their float values under their own names.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper, numpy_helper, version_converter

from ..errors import UserError
from ..formats import BlockFormat
from .fake_quant_pattern import activation_pattern, weight_decode_pattern
from .native import native_activation, native_weight
from .plan import BIAS_INT32, TensorQuant
from .relu_guard import guard_relus
from .util import expand_scale, initializer_map, opset_version, splice_nodes


def required_opset(plan: list[TensorQuant]) -> int:
    """Return the smallest default-domain opset that holds every Q/DQ type and attribute the plan needs."""
    need = 13
    for e in plan:
        if e.fmt == BIAS_INT32:
            continue
        native = native_weight(e.fmt) if e.role != "activation" else native_activation(e.fmt)
        if native is not None:
            need = max(need, native[2])
            if e.block_size is not None:
                need = max(need, 21)
    return need


def export_quantized(model: onnx.ModelProto, plan: list[TensorQuant]) -> tuple[onnx.ModelProto, dict[str, int]]:
    """Return (quantized model, stored bytes per weight/bias tensor) for a float model and a per-tensor plan.

    The float model is not modified. Initializers named by weight/bias entries are replaced by their stored codes;
    activation entries may name any float tensor (a node output or graph input). The model is converted to the
    opset the plan needs (19 for FP8, 21 for int4/int16 and block scales) with onnx's version converter.
    """
    need = required_opset(plan)
    if opset_version(model) < need:
        model_q = _convert(model, need)
    else:
        model_q = onnx.ModelProto()
        model_q.CopyFrom(model)
    graph = model_q.graph
    inits = initializer_map(graph)
    by_tensor = {e.tensor: e for e in plan}
    missing = [e.tensor for e in plan if e.role != "activation" and e.tensor not in inits]
    if missing:
        raise ValueError(f"plan names weights that are not initializers: {missing[:5]}")

    guard_relus(graph, [e for e in plan if e.role == "activation"])
    renamed: dict[str, str] = {}
    after: dict[str, list[NodeProto]] = defaultdict(list)  # tensor name -> nodes to emit right after it exists
    head: list[NodeProto] = []
    new_inits: list[TensorProto] = []
    stored: dict[str, int] = {}
    for entry in plan:
        if entry.role == "activation":
            out = f"{entry.tensor}_dq"
            nodes, extra = _activation_nodes(entry, out)
            after[entry.tensor].extend(nodes)
        else:
            weight = numpy_helper.to_array(inits[entry.tensor]).astype(np.float32)
            out = f"{entry.tensor}_dq"
            nodes, extra, stored[entry.tensor] = _weight_nodes(entry, weight, out)
            head.extend(nodes)
        new_inits.extend(extra)
        renamed[entry.tensor] = out

    kept = [t for t in graph.initializer if not (t.name in by_tensor and by_tensor[t.name].role != "activation")]
    try:
        splice_nodes(graph, head, after, renamed, [i.name for i in graph.input] + [t.name for t in kept])
    except ValueError as err:
        raise ValueError(f"plan names activations that no node produces ({err})") from None
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    return model_q, stored


def _convert(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
    """Return the model converted to a newer default-domain opset (ops whose signature changed are rewritten)."""
    try:
        return version_converter.convert_version(model, version)
    except Exception as err:  # the converter raises RuntimeError/ValueError/its own errors per op
        raise UserError(
            f"the quantized graph needs opset {version} (FP8 needs 19, int4/int16/blocks 21) but the model "
            f"(opset {opset_version(model)}) could not be converted ({str(err).splitlines()[0][:200]}); "
            f"re-export it with opset {version}"
        ) from None


def _activation_nodes(entry: TensorQuant, out: str) -> tuple[list[NodeProto], list[TensorProto]]:
    native = native_activation(entry.fmt)
    if native is None:
        return activation_pattern(entry.tensor, out, entry)
    _, dtype, _ = native
    p = entry.tensor
    scale = np.asarray(entry.scale, dtype=np.float32)
    zp = np.zeros(scale.shape) if entry.zero_point is None else np.asarray(entry.zero_point)
    inits = [
        numpy_helper.from_array(scale, f"{p}_scale"),
        numpy_helper.from_array(zp.astype(dtype), f"{p}_zero_point"),
    ]
    attrs = {} if entry.axis is None else {"axis": entry.axis}
    nodes = [
        helper.make_node("QuantizeLinear", [p, f"{p}_scale", f"{p}_zero_point"], [f"{p}_q"], name=f"{p}_Q", **attrs),
        helper.make_node("DequantizeLinear", [f"{p}_q", f"{p}_scale", f"{p}_zero_point"], [out], name=f"{p}_DQ", **attrs),
    ]
    return nodes, inits


def _weight_nodes(entry: TensorQuant, weight: np.ndarray, out: str) -> tuple[list[NodeProto], list[TensorProto], int]:
    p = entry.tensor
    if entry.fmt == BIAS_INT32:
        scale = np.asarray(entry.scale, dtype=np.float32)
        q = np.clip(np.rint(weight / scale), -(2**31) + 1, 2**31 - 1).astype(np.int32)
        inits = [numpy_helper.from_array(q, f"{p}_q"), numpy_helper.from_array(scale, f"{p}_scale")]
        attrs = {"axis": 0} if scale.ndim else {}
        node = helper.make_node("DequantizeLinear", [f"{p}_q", f"{p}_scale"], [out], name=f"{p}_DQ", **attrs)
        return [node], inits, q.nbytes + scale.nbytes
    if not weight_is_native(entry):
        return weight_decode_pattern(entry, weight, out)
    onnx_type, dtype, _ = native_weight(entry.fmt)
    values = entry.apply(weight)
    scale = np.asarray(entry.scale, dtype=np.float32)
    codes = _codes_for(values, entry, scale)
    zp = np.zeros(scale.shape) if entry.zero_point is None else np.asarray(entry.zero_point)
    inits = [
        numpy_helper.from_array(codes.astype(dtype), f"{p}_q"),
        numpy_helper.from_array(scale, f"{p}_scale"),
        numpy_helper.from_array(zp.astype(dtype), f"{p}_zero_point"),
    ]
    attrs = {} if entry.axis is None or scale.ndim == 0 else {"axis": entry.axis}
    if entry.block_size is not None:
        attrs["block_size"] = entry.block_size
    node = helper.make_node("DequantizeLinear", [f"{p}_q", f"{p}_scale", f"{p}_zero_point"], [out], name=f"{p}_DQ", **attrs)
    bits = np.dtype(dtype).itemsize * 8 if onnx_type not in (TensorProto.INT4, TensorProto.UINT4) else 4
    return [node], inits, int(np.ceil(codes.size * bits / 8)) + scale.nbytes


# Q/DQ element types whose blocked (opset 21 block_size) DequantizeLinear onnxruntime runs on CPU.
_BLOCK_DQ_TYPES = (TensorProto.INT4, TensorProto.UINT4, TensorProto.INT8, TensorProto.UINT8)


def weight_is_native(entry: TensorQuant) -> bool:
    """Return True when a weight/bias entry is written as DequantizeLinear (else as codes + decode pattern)."""
    if entry.fmt == BIAS_INT32:
        return True
    if isinstance(entry.format, BlockFormat):
        return False
    native = native_weight(entry.fmt)
    return native is not None and (entry.block_size is None or native[0] in _BLOCK_DQ_TYPES)


def _codes_for(values: np.ndarray, entry: TensorQuant, scale: np.ndarray) -> np.ndarray:
    """Return the stored values (integers or minifloat values in format units) whose dequantization is `values`."""
    s = expand_scale(scale, values.shape, entry.axis, entry.block_size)
    units = values / s
    fmt = entry.format
    if fmt.kind == "int":
        zp = 0.0 if entry.zero_point is None else expand_scale(entry.zero_point, values.shape, entry.axis, entry.block_size)
        return np.rint(units + zp)
    return units
