"""Keep a Relu/Clip in front of a floating-point quantizer, on every runtime.

onnxruntime's default optimizations drop a Relu (ReluQuantRewrite) or a Clip (ClipQuantRewrite) that feeds a
QuantizeLinear, assuming the quantized range already clamps like it. For integer types ORT checks this first (zero
point at qmin, or the Clip bounds covering the quantized range), so the rewrite is exact: a uint8 quantizer after a
Relu has its range at [0, hi] and zero point 0; a symmetric int8 one has zero point 0, not -128, so ORT keeps the
Relu. For FP8 types ORT drops it unchecked, but an FP8 range is sign-symmetric, so negatives leak through (a digits
CNN fell from 99% to 70% in FP8, ../shared/RESEARCH.md). Writing the same function as Max(x, 0) (and Clip as Max
then Min) keeps the graph exact on any runtime, but it hides Conv+Relu from ORT's integer fusions (the digits CNN
with a signed input ran 5x slower), so it is applied only when some activation quantizer is not an integer one.
Measured on the digits CNN: guarding only the Relu right before a QuantizeLinear is not enough, because ORT first
moves Q/DQ pairs across MaxPool and then drops the Relu before it; so in the FP8 case every Relu/Clip is guarded.
"""

from __future__ import annotations

import numpy as np
from onnx import GraphProto, helper, numpy_helper

from ..formats import IntFormat
from .plan import TensorQuant
from .util import initializer_map


def needs_guard(activations: list[TensorQuant]) -> bool:
    """Return True when ORT's Relu/Clip-before-QuantizeLinear rewrite may change the result: a non-integer quantizer."""
    return any(not isinstance(e.format, IntFormat) for e in activations)


def guard_relus(graph: GraphProto, activations: list[TensorQuant]) -> int:
    """Rewrite every Relu/Clip as Max/Min in place when some activation quantizer is not integer; return how many."""
    if not needs_guard(activations):
        return 0
    inits = initializer_map(graph)
    count = 0
    for node in graph.node:
        if node.op_type not in ("Relu", "Clip"):
            continue
        lo, hi = _clip_bounds(node, inits) if node.op_type == "Clip" else (0.0, None)
        x, y = node.input[0], node.output[0]
        if lo is None and hi is None:
            continue
        if lo is not None and hi is not None:
            new = [_max_node(node.name, x, f"{y}_lo", lo, graph), _min_node(node.name, f"{y}_lo", y, hi, graph)]
        elif lo is not None:
            new = [_max_node(node.name, x, y, lo, graph)]
        else:
            new = [_min_node(node.name, x, y, hi, graph)]
        idx = list(graph.node).index(node)
        graph.node.remove(node)
        for k, n in enumerate(new):
            graph.node.insert(idx + k, n)
        count += 1
    return count


def _clip_bounds(node, inits) -> tuple[float | str | None, float | str | None]:
    """Return Clip's (min, max): a constant, the name of a tensor computed at run time, or None when absent."""
    bounds: list[float | None] = []
    for k in (1, 2):
        if len(node.input) > k and node.input[k]:
            if node.input[k] not in inits:  # a bound computed at run time: Max/Min read the same tensor
                bounds.append(node.input[k])
            else:
                bounds.append(float(numpy_helper.to_array(inits[node.input[k]])))
        else:
            bounds.append(None)
    for attr in node.attribute:  # opset < 11 Clip
        if attr.name == "min":
            bounds[0] = attr.f
        if attr.name == "max":
            bounds[1] = attr.f
    return bounds[0], bounds[1]


def _bound(graph: GraphProto, name: str, value: float | str) -> str:
    if isinstance(value, str):
        return value
    graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
    return name


def _max_node(base: str, x: str, y: str, lo, graph):
    return helper.make_node("Max", [x, _bound(graph, f"{base}_guard_lo", lo)], [y], name=f"{base}_guard_max")


def _min_node(base: str, x: str, y: str, hi, graph):
    return helper.make_node("Min", [x, _bound(graph, f"{base}_guard_hi", hi)], [y], name=f"{base}_guard_min")
