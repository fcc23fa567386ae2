"""Keep a Relu/Clip in front of a quantizer whose range includes negatives, on every runtime.

onnxruntime's default optimizations drop a Relu (or a Clip) that feeds a QuantizeLinear, assuming the quantized
range already starts at zero; that holds for uint8 with zero point 0, but an FP8 or symmetric int8 range is
sign-symmetric, so negatives leak through (a digits CNN fell from 99% to 70% in FP8, ../shared/RESEARCH.md).
Writing the same function as Max(x, 0) (and Clip as Max then Min) keeps the graph exact on any runtime; for
ranges that start at zero the Relu stays, so the runtime may still fuse it. Measured on the digits CNN: guarding
only the Relu right before a QuantizeLinear is not enough, because ORT first moves Q/DQ pairs across MaxPool and
then drops the Relu before it; so when any quantizer is sign-symmetric, every Relu/Clip in the graph is guarded.
"""

from __future__ import annotations

import numpy as np
from onnx import GraphProto, helper, numpy_helper

from ..formats import IntFormat, get_format
from .plan import TensorQuant
from .util import initializer_map


def range_starts_at_zero(entry: TensorQuant) -> bool:
    """Return True when the quantized range is [0, ...]: an integer format whose zero point equals its qmin."""
    fmt = get_format(entry.fmt)
    if not isinstance(fmt, IntFormat):
        return False
    zp = 0 if entry.zero_point is None else int(np.asarray(entry.zero_point).reshape(-1)[0])
    return zp == fmt.qmin


def guard_relus(graph: GraphProto, activations: list[TensorQuant]) -> int:
    """Rewrite every Relu/Clip as Max/Min in place when some quantized range includes negatives; return how many."""
    if all(range_starts_at_zero(e) for e in activations):
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
