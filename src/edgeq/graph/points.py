"""Find what to quantize: the weights and activation inputs of Conv, ConvTranspose, Gemm and MatMul, and the
inputs of Add/Concat whose result feeds such an op (runtimes run those in integers with shared scales)."""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx
from onnx import TensorProto

from .ops import weight_role
from .util import initializer_map

COMPUTE_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
JOIN_OPS = ("Add", "Concat")
# Single-input ops a quantized tensor passes through on its way to the next quantized op.
PASS_OPS = {"Relu", "Clip", "MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"}
# Single-input ops whose outputs are a selection or rearrangement of their input values.
VALUE_PRESERVING_OPS = {"MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"}
# Ops that only move or select data: not listed among the ops that stayed in float.
LAYOUT_OPS = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Shape", "Gather", "Slice", "Identity",
              "Constant", "Cast", "Expand", "Split", "ConstantOfShape", "QuantizeLinear", "DequantizeLinear"}


@dataclass
class QuantNode:
    """One op whose inputs get quantized."""

    name: str
    op_type: str
    acts: list[str]
    weight: str | None = None
    channel_axis: int | None = None  # axis of output channels in the weight (per-channel scales)
    block_axis: int | None = None  # axis of input channels in the weight (block scales, MX blocks)
    bias: str | None = None
    shared_scale: bool = False  # Concat: all inputs share one scale
    scale_from: str | None = None  # MaxPool/reshapes: the input takes the scale of the (quantized) output
    feeds: tuple[str, ...] = ()  # Add/Concat: the quantized nodes its result reaches through pass-through ops


@dataclass
class QuantPoints:
    """The quantizable ops of a graph and the float tensors feeding them."""

    nodes: list[QuantNode] = field(default_factory=list)
    float_ops: dict[str, int] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)  # "Conv x2: weight computed at run time": left float, why

    @property
    def activations(self) -> list[str]:
        """Every activation tensor to quantize, in first-use order, without repeats."""
        seen: dict[str, None] = {}
        for n in self.nodes:
            for a in n.acts:
                seen.setdefault(a, None)
        return list(seen)


def float_tensors(model: onnx.ModelProto) -> set[str]:
    """Return names of tensors known (by shape inference) to be float32."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is best effort: unknown custom ops stop it
        inferred = model
    g = inferred.graph
    infos = list(g.value_info) + list(g.input) + list(g.output)
    return {v.name for v in infos if v.type.tensor_type.elem_type == TensorProto.FLOAT} | {
        t.name for t in g.initializer if t.data_type == TensorProto.FLOAT
    }


def find_points(model: onnx.ModelProto, exclude: tuple[str, ...] = ()) -> QuantPoints:
    """Return the ops to quantize (skipping names/op types in `exclude`) and a count of ops left in float."""
    graph = model.graph
    inits = initializer_map(graph)
    floats = float_tensors(model)
    excluded = set(exclude)
    points = QuantPoints()
    chosen: set[str] = set()
    skipped: dict[tuple[str, str], int] = {}
    for node in graph.node:
        if node.name in excluded or node.op_type in excluded or node.op_type not in COMPUTE_OPS:
            continue
        qn = _compute_node(node, inits, floats)
        if qn is not None:
            points.nodes.append(qn)
            chosen.add(node.name)
        else:
            key = (node.op_type, _why_not(node, inits, floats))
            skipped[key] = skipped.get(key, 0) + 1
    points.fallbacks = [f"{op} x{n}: {why}" for (op, why), n in sorted(skipped.items())]
    feeding = _reaching(graph, {a for n in points.nodes for a in n.acts})
    for node in graph.node:
        if node.op_type not in JOIN_OPS or node.name in excluded or node.op_type in excluded:
            continue
        if node.output[0] not in feeding:
            continue
        acts = [i for i in node.input if i and i not in inits and i in floats]
        if len(acts) == len([i for i in node.input if i]) and acts:
            points.nodes.append(QuantNode(node.name, node.op_type, acts, shared_scale=node.op_type == "Concat",
                                          feeds=_fed_nodes(graph, node.output[0], points.nodes)))
            chosen.add(node.name)
    # A MaxPool or reshape between a quantized op and the next one gets a Q/DQ on its input with its output's
    # scale: exact (these ops only select or move grid values), and it lets runtimes fuse the op before it into an
    # integer kernel (measured on the digits CNN: ORT then runs all three convs as QLinearConv instead of two).
    quantized = {a for n in points.nodes for a in n.acts}
    for node in reversed(graph.node):
        if node.op_type not in VALUE_PRESERVING_OPS:
            continue
        if node.output[0] in quantized and node.input[0] not in quantized:
            if node.input[0] in floats and node.input[0] not in inits:
                points.nodes.append(QuantNode(node.name, node.op_type, [node.input[0]], scale_from=node.output[0]))
                quantized.add(node.input[0])
                chosen.add(node.name)
    for node in graph.node:
        if node.name not in chosen and node.op_type not in LAYOUT_OPS:
            points.float_ops[node.op_type] = points.float_ops.get(node.op_type, 0) + 1
    return points


def _fed_nodes(graph, tensor: str, nodes: list[QuantNode]) -> tuple[str, ...]:
    """Return the quantized nodes reading `tensor`, directly or through single-input pass-through ops."""
    readers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    by_act: dict[str, list[str]] = {}
    for q in nodes:
        for a in q.acts:
            by_act.setdefault(a, []).append(q.name)
    fed, todo, seen = [], [tensor], set()
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        fed += by_act.get(t, [])
        todo += [n.output[0] for n in readers.get(t, []) if n.op_type in PASS_OPS and n.input[0] == t]
    return tuple(sorted(set(fed)))


def _reaching(graph, targets: set[str]) -> set[str]:
    """Return tensors that flow into `targets` through single-input pass-through ops (Relu, pooling, reshapes)."""
    made_by = {o: n for n in graph.node for o in n.output}
    reached, todo = set(targets), list(targets)
    while todo:
        node = made_by.get(todo.pop())
        if node is not None and node.op_type in PASS_OPS and node.input[0] not in reached:
            reached.add(node.input[0])
            todo.append(node.input[0])
    return reached


def _compute_node(node, inits, floats) -> QuantNode | None:
    ins = list(node.input)
    const = lambda name: name in inits and inits[name].data_type == TensorProto.FLOAT  # noqa: E731
    if node.op_type in ("Conv", "ConvTranspose"):
        if len(ins) < 2 or not const(ins[1]) or ins[0] not in floats:
            return None
        role = weight_role(node, len(inits[ins[1]].dims))
        bias = ins[2] if len(ins) > 2 and ins[2] in inits else None
        return QuantNode(node.name, node.op_type, [ins[0]], ins[1], role.channel_axis, role.block_axis, bias)
    if node.op_type == "Gemm":
        role = weight_role(node, 2)
        if role is None:
            return None
        if const(ins[1]):
            bias = ins[2] if len(ins) > 2 and ins[2] in inits and len(inits[ins[2]].dims) == 1 else None
            acts = [ins[0]] if ins[0] in floats else []
            return QuantNode(node.name, node.op_type, acts, ins[1], role.channel_axis, role.block_axis, bias)
        acts = [i for i in ins[:2] if i in floats]
        return QuantNode(node.name, node.op_type, acts) if acts else None
    # MatMul: a constant operand (either side) is a weight; float activations on the other side(s)
    weight = next((i for i in ins if const(i)), None)
    acts = [i for i in ins if i != weight and i in floats]
    if not acts and weight is None:
        return None
    if weight is None or weight != ins[1]:
        return QuantNode(node.name, node.op_type, acts)  # constant left operand: quantize activations only
    role = weight_role(node, len(inits[weight].dims))
    if role is None:
        return QuantNode(node.name, node.op_type, acts)
    return QuantNode(node.name, node.op_type, acts, weight, role.channel_axis, role.block_axis, None)


def _why_not(node, inits, floats) -> str:
    """Return why a compute op is left in float (for the report)."""
    ins = [i for i in node.input if i]
    if any(i not in floats and i not in inits for i in ins[:2]):
        return "an input is not float (or its type is unknown)"
    if node.op_type == "Gemm":
        return "transA=1 is not supported"
    if len(ins) > 1 and ins[1] not in inits:
        return "weight computed at run time"
    return "weight is not a float initializer"


def stem_nodes(model: onnx.ModelProto, points: QuantPoints) -> list[QuantNode]:
    """Return the weighted quantized nodes with no compute op upstream: the first layer on each input path
    (reached from a model input through padding, reshapes, normalisation and the like)."""
    made_by = {o: n for n in model.graph.node for o in n.output}

    def upstream_compute(tensor: str, seen: set[str]) -> bool:
        node = made_by.get(tensor)
        if node is None or tensor in seen:
            return False
        seen.add(tensor)
        if node.op_type in COMPUTE_OPS:
            return True
        return any(upstream_compute(i, seen) for i in node.input if i)

    return [n for n in points.nodes if n.weight and not any(upstream_compute(a, set()) for a in n.acts)]
