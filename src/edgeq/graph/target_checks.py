"""Static checks of a written QDQ graph against a runtime target's rules (`edgeq.ptq.targets` describes them).

Each rule reads only the graph: Q/DQ element types, zero points, scale shapes and axes, what feeds the weighted
ops. A check returns every violation, one line each naming the node, so a failing test or report says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from .ops import weight_role
from .util import initializer_map, opset_version

WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
_NAMES = {TensorProto.INT8: "int8", TensorProto.UINT8: "uint8", TensorProto.INT16: "int16",
          TensorProto.UINT16: "uint16", TensorProto.INT32: "int32", TensorProto.INT4: "int4",
          TensorProto.UINT4: "uint4", TensorProto.FLOAT8E4M3FN: "fp8_e4m3", TensorProto.FLOAT8E5M2: "fp8_e5m2",
          TensorProto.FLOAT8E4M3FNUZ: "fp8_e4m3fnuz", TensorProto.FLOAT8E5M2FNUZ: "fp8_e5m2fnuz"}

RULES = {
    "generic": ["every QuantizeLinear feeds DequantizeLinear nodes with the same scale and zero point"],
    "ort-cpu": ["every QuantizeLinear feeds DequantizeLinear nodes with the same scale and zero point",
                "integer activations are uint8 or int8",
                "no Max/Min Relu guard when every activation quantizer is an integer one (it blocks Conv+Relu fusion)",
                "on a CPU without VNNI/AMX, int8 weights x 8-bit activations keep their codes in [-64, 63]"],
    "tensorrt": ["every QuantizeLinear feeds DequantizeLinear nodes with the same scale and zero point",
                 "Q/DQ types are int8 or fp8_e4m3 (int4 for weights); no uint8, no int32 bias",
                 "every zero point is 0",
                 "activation scales are per tensor",
                 "per-channel weight scales run along the op's output-channel axis",
                 "a weighted op with a quantized weight has quantized activation inputs"],
    "qnn": ["every QuantizeLinear feeds DequantizeLinear nodes with the same scale and zero point",
            "activations are uint8 or uint16",
            "weights are int8/int4 symmetric (zero point 0) or uint8; biases int32 with zero point 0",
            "16-bit Q/DQ needs opset 21 (or the com.microsoft domain)",
            "a uint16 Sigmoid output has scale 1/65536 and zero point 0; Tanh 1/32768 and 32768",
            "no MatMul with two 16-bit activation inputs"],
}


@dataclass
class TargetCheck:
    """The result of checking a graph against a target: the rules checked and every violation found."""

    target: str
    rules: list[str]
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no rule is violated."""
        return not self.violations

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {"target": self.target, "ok": self.ok, "rules": self.rules, "violations": self.violations}


@dataclass
class _QDQ:
    node: onnx.NodeProto
    qtype: int  # element type of the quantized side
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    is_weight: bool  # a DequantizeLinear of an initializer


def _qdq_nodes(model: onnx.ModelProto) -> list[_QDQ]:
    inits = initializer_map(model.graph)
    made_by = {o: n for n in model.graph.node for o in n.output}
    arr = lambda name: numpy_helper.to_array(inits[name]) if name in inits else None  # noqa: E731
    out = []
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        zp_name = node.input[2] if len(node.input) > 2 and node.input[2] else ""
        qtype = inits[zp_name].data_type if zp_name in inits else None
        is_weight = node.op_type == "DequantizeLinear" and node.input[0] in inits
        if is_weight:
            qtype = inits[node.input[0]].data_type
        elif qtype is None and node.op_type == "DequantizeLinear" and node.input[0] in made_by:
            src = made_by[node.input[0]]
            zp = src.input[2] if len(src.input) > 2 else ""
            qtype = inits[zp].data_type if zp in inits else TensorProto.UINT8
        out.append(_QDQ(node, qtype if qtype is not None else TensorProto.UINT8, arr(node.input[1]),
                        arr(zp_name) if zp_name else None, is_weight))
    return out


def _axis(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "axis"), 1)


def _pairs(model, qdq: list[_QDQ]) -> list[str]:
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    out = []
    for q in (e for e in qdq if e.node.op_type == "QuantizeLinear"):
        for c in consumers.get(q.node.output[0], []):
            if c.op_type != "DequantizeLinear" or list(c.input[1:]) != list(q.node.input[1:]):
                out.append(f"QuantizeLinear {q.node.name} feeds {c.op_type} {c.name}, not a matching DequantizeLinear")
        if not consumers.get(q.node.output[0]):
            out.append(f"QuantizeLinear {q.node.name} has no DequantizeLinear after it")
    return out


def _guards(model, qdq) -> list[str]:
    int_types = {TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16}
    acts = [e for e in qdq if e.node.op_type == "QuantizeLinear"]
    if not acts or any(e.qtype not in int_types for e in acts):
        return []
    return [f"{n.op_type} {n.name} is a Relu guard in an all-integer graph (keep Relu for the integer fusions)"
            for n in model.graph.node if n.op_type in ("Max", "Min") and n.name.endswith(("_guard_max", "_guard_min"))]


def _weighted(model) -> dict[str, tuple[onnx.NodeProto, int]]:
    """Return weight DQ output -> (weighted node, weight rank)."""
    inits = initializer_map(model.graph)
    made_by = {o: n for n in model.graph.node for o in n.output}
    out = {}
    for n in model.graph.node:
        if n.op_type in WEIGHTED_OPS and len(n.input) > 1:
            src = made_by.get(n.input[1])
            if src is not None and src.op_type == "DequantizeLinear" and src.input[0] in inits:
                out[src.output[0]] = (n, len(inits[src.input[0]].dims))
    return out


def check_target(model: onnx.ModelProto, target: str, *, int8_exact: bool | None = None) -> TargetCheck:
    """Return the target's rules and every violation in the written graph (`int8_exact`: default, this CPU)."""
    result = TargetCheck(target, RULES[target])
    qdq = _qdq_nodes(model)
    v = result.violations
    v.extend(_pairs(model, qdq))
    acts = [e for e in qdq if e.node.op_type == "QuantizeLinear"]
    weights = [e for e in qdq if e.is_weight]
    name = lambda e: f"{e.node.op_type} {e.node.name} ({_NAMES.get(e.qtype, e.qtype)})"  # noqa: E731
    if target == "ort-cpu":
        v.extend(f"{name(e)}: integer activations must be uint8 or int8" for e in acts
                 if e.qtype in (TensorProto.INT16, TensorProto.UINT16, TensorProto.INT4, TensorProto.UINT4))
        v.extend(_guards(model, qdq))
        if int8_exact is None:
            from ..cpu import int8_kernels

            int8_exact = int8_kernels().exact
        if not int8_exact and acts and all(e.qtype in (TensorProto.INT8, TensorProto.UINT8) for e in acts):
            inits = initializer_map(model.graph)
            for e in weights:
                if e.qtype == TensorProto.INT8:
                    codes = numpy_helper.to_array(inits[e.node.input[0]])
                    if codes.size and (codes.min() < -64 or codes.max() > 63):
                        v.append(f"{name(e)}: codes reach [{codes.min()}, {codes.max()}] but this CPU has no VNNI "
                                 "(u8s8 kernels saturate); keep them in [-64, 63]")
    elif target == "tensorrt":
        ok_types = {TensorProto.INT8, TensorProto.FLOAT8E4M3FN}
        for e in qdq:
            allowed = ok_types | ({TensorProto.INT4} if e.is_weight else set())
            if e.qtype not in allowed:
                v.append(f"{name(e)}: TensorRT Q/DQ takes int8 or fp8_e4m3" + (" (bias stays float)"
                         if e.qtype == TensorProto.INT32 else ""))
            if e.zero_point is not None and np.any(e.zero_point.astype(np.float32) != 0):
                v.append(f"{name(e)}: zero point must be 0 (TensorRT quantization is symmetric)")
        v.extend(f"{name(e)}: activation scale must be per tensor" for e in acts
                 if e.scale is not None and e.scale.size != 1)
        quantized_acts = {e.node.output[0] for e in qdq if e.node.op_type == "DequantizeLinear" and not e.is_weight}
        weighted = _weighted(model)
        for e in weights:
            if e.node.output[0] not in weighted:
                continue
            node, rank = weighted[e.node.output[0]]
            role = weight_role(node, rank)
            if e.scale is not None and e.scale.size > 1 and role is not None and _axis(e.node) % rank != role.channel_axis:
                v.append(f"{name(e)}: per-channel axis {_axis(e.node)} is not {node.op_type} {node.name}'s "
                         f"output-channel axis {role.channel_axis}")
            if node.input[0] not in quantized_acts:
                v.append(f"{node.op_type} {node.name} has a quantized weight but a float activation input")
    elif target == "qnn":
        v.extend(f"{name(e)}: QNN activations are uint8 or uint16" for e in acts
                 if e.qtype not in (TensorProto.UINT8, TensorProto.UINT16))
        for e in weights:
            if e.qtype == TensorProto.INT32:
                if e.zero_point is not None and np.any(e.zero_point != 0):
                    v.append(f"{name(e)}: int32 bias zero point must be 0")
            elif e.qtype in (TensorProto.INT8, TensorProto.INT4):
                if e.zero_point is not None and np.any(e.zero_point.astype(np.float32) != 0):
                    v.append(f"{name(e)}: signed weights must be symmetric (zero point 0)")
            elif e.qtype != TensorProto.UINT8:
                v.append(f"{name(e)}: QNN weights are int8, int4 or uint8")
        wide = {TensorProto.INT16, TensorProto.UINT16}
        if any(e.qtype in wide for e in qdq) and opset_version(model) < 21 and not any(
                e.node.domain == "com.microsoft" for e in qdq):
            v.append("16-bit Q/DQ needs opset 21 (or com.microsoft Q/DQ)")
        made_by = {o: n for n in model.graph.node for o in n.output}
        fixed = {"Sigmoid": (1.0 / 65536.0, 0), "Tanh": (1.0 / 32768.0, 32768)}
        for e in acts:
            src = made_by.get(e.node.input[0])
            if src is not None and src.op_type in fixed and e.qtype == TensorProto.UINT16:
                scale, zp = fixed[src.op_type]
                got = (float(e.scale.reshape(-1)[0]), int(e.zero_point.reshape(-1)[0]) if e.zero_point is not None else 0)
                if got != (np.float32(scale), zp):
                    v.append(f"{name(e)}: a uint16 {src.op_type} output needs scale {scale:g}, zero point {zp}")
        sixteen = {e.node.output[0] for e in qdq if e.node.op_type == "DequantizeLinear" and not e.is_weight
                   and e.qtype in wide}
        v.extend(f"MatMul {n.name}: two 16-bit activation inputs (QNN runs one of them at 8 bits)"
                 for n in model.graph.node if n.op_type == "MatMul" and sum(i in sixteen for i in n.input) == 2)
    return result


__all__ = ["RULES", "TargetCheck", "check_target"]
