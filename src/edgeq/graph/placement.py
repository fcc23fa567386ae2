"""Latency-aware Q/DQ placement: quantize a weighted op's output when its consumer is a float op.

edgeq quantizes the inputs of the ops it quantizes. After a Relu that is enough for onnxruntime: it drops the Relu
before the QuantizeLinear and fuses DQ -> Conv -> Q into QLinearConv. After HardSwish, SiLU (Sigmoid * x),
HardSigmoid and other float ops it is not: the Conv's output reaches no QuantizeLinear, so ORT runs the Conv in
float between a DequantizeLinear and the float op (measured on a 7-conv HardSwish CNN: 0.80 ms vs 0.54 ms for
quantize_static, FP32 0.21 ms). A Q/DQ pair on such a Conv output, as quantize_static places it, lets ORT run the
Conv as QLinearConv; the float op between the pairs stays a float island, which costs a Q and a DQ of that tensor
(why both int8 models are slower than FP32 on that net: the runtime has no integer HardSwish).

Ops that ORT does run in integers when both sides are quantized (Sigmoid -> QLinearSigmoid, then Sigmoid * x ->
QLinearMul for SiLU; average pooling) get a point on their output too: the SiLU CNN went from 0.61 ms (Sigmoid and
Mul in float) to match quantize_static.
"""

from __future__ import annotations

import onnx

from .points import COMPUTE_OPS, PASS_OPS, QuantNode, QuantPoints

# single-input ops onnxruntime's CPU provider runs as QLinear kernels when their input and output are quantized
QLINEAR_UNARY = ("Sigmoid", "LeakyRelu", "GlobalAveragePool", "AveragePool")


def add_output_points(model: onnx.ModelProto, points: QuantPoints) -> int:
    """Add a point on each quantized Conv/Gemm/MatMul output that feeds only float ops; return how many."""
    graph = model.graph
    quantized = set(points.activations)
    outputs = {o.name for o in graph.output}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    weighted = {n.name for n in points.nodes if n.weight and n.op_type in COMPUTE_OPS}
    added = 0
    for node in graph.node:
        if node.name not in weighted or not node.output:
            continue
        out = node.output[0]
        users = readers.get(out, [])
        if out in quantized or out in outputs or not users:
            continue
        if _reaches_quantized(out, readers, quantized):
            continue  # a Relu/pool/reshape on the way to a quantized tensor: ORT already fuses it
        points.nodes.append(QuantNode(f"{node.name}:output", "Output", [out]))
        quantized.add(out)
        added += 1
    for node in graph.node:  # topological order: a Sigmoid after a newly quantized Conv output is seen after it
        if node.op_type in QLINEAR_UNARY and node.input and node.input[0] in quantized:
            out = node.output[0]
            if out not in quantized and out not in outputs and readers.get(out):
                points.nodes.append(QuantNode(f"{node.name}:output", "Output", [out]))
                quantized.add(out)
                added += 1
    return added


JOINS = ("Add", "Concat", "Mul")


def add_join_points(model: onnx.ModelProto, points: QuantPoints) -> int:
    """Quantize the inputs of Add/Concat/Mul whose output is quantized, to a fixed point; return how many.

    `find_points` quantizes a join when it feeds a quantized op through pass-through ops; a join feeding another
    join (YOLO's residual Add into a Concat) was left in float between Q/DQ pairs. With its inputs quantized too,
    onnxruntime runs it as QLinearAdd/QLinearConcat/QLinearMul (a YOLOv8n detector had 15 float Adds and 19 float
    Concats that quantize_static's model runs in integers).
    """
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    quantized = set(points.activations)
    chosen = {n.name for n in points.nodes}
    added, changed = 0, True
    while changed:
        changed = False
        for node in reversed(graph.node):
            if node.op_type not in JOINS or node.name in chosen or node.output[0] not in quantized:
                continue
            inputs = [i for i in node.input if i]
            if not inputs or any(i in inits for i in inputs):
                continue  # a constant operand (scaling, bias): not a join of activations
            points.nodes.append(QuantNode(node.name, node.op_type, inputs, shared_scale=node.op_type == "Concat"))
            chosen.add(node.name)
            quantized.update(inputs)
            added += 1
            changed = True
    return added


def _reaches_quantized(tensor: str, readers, quantized: set[str]) -> bool:
    """Return True when `tensor` flows through single-input pass-through ops (Relu, pools, reshapes) into a
    quantized tensor; a chain that ends at a float op (Unsqueeze -> Pow in an STFT front-end) does not count."""
    seen = set()
    todo = [tensor]
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        for user in readers.get(t, []):
            if user.op_type in PASS_OPS and user.input[0] == t:
                if user.output[0] in quantized:
                    return True
                todo.append(user.output[0])
    return False


__all__ = ["JOINS", "add_join_points", "add_output_points"]
