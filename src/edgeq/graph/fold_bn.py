"""Fold a BatchNormalization that follows a Conv or Gemm into that layer's weights and bias."""

from __future__ import annotations

import numpy as np
from onnx import GraphProto, helper, numpy_helper

from .util import consumers, initializer_map, subgraph_inputs


def fold_batchnorm(graph: GraphProto) -> int:
    """Fold every foldable BatchNormalization in place (Conv/Gemm with constant weights, sole consumer); return count."""
    inits = initializer_map(graph)
    readers = consumers(graph)
    producer = {o: n for n in graph.node for o in n.output}
    graph_outputs = {o.name for o in graph.output}
    folded = 0
    for bn in [n for n in graph.node if n.op_type == "BatchNormalization"]:
        layer = producer.get(bn.input[0])
        if layer is None or layer.op_type not in ("Conv", "Gemm") or len(bn.output) > 1 and any(bn.output[1:]):
            continue
        if len(readers.get(layer.output[0], [])) != 1 or layer.output[0] in graph_outputs:
            continue
        if layer.op_type == "Gemm" and not _gemm_is_foldable(layer):
            continue
        if not all(name in inits for name in list(bn.input[1:5]) + [layer.input[1]]):
            continue
        gamma, beta, mean, var = (numpy_helper.to_array(inits[n]).astype(np.float64) for n in bn.input[1:5])
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        factor = gamma / np.sqrt(var + eps)
        w_init = inits[layer.input[1]]
        w = numpy_helper.to_array(w_init).astype(np.float64)
        w = w * factor.reshape([-1] + [1] * (w.ndim - 1))
        has_bias = len(layer.input) > 2 and layer.input[2]
        b = numpy_helper.to_array(inits[layer.input[2]]).astype(np.float64) if has_bias else np.zeros_like(mean)
        b = (b - mean) * factor + beta
        w_name, b_name = f"{layer.input[1]}_bnfold", f"{layer.name or layer.output[0]}_bias_bnfold"
        graph.initializer.extend(
            [numpy_helper.from_array(w.astype(np.float32), w_name), numpy_helper.from_array(b.astype(np.float32), b_name)]
        )
        layer.input[1] = w_name
        if has_bias:
            layer.input[2] = b_name
        else:
            layer.input.append(b_name)
        layer.output[0] = bn.output[0]
        graph.node.remove(bn)
        folded += 1
    _drop_unused_initializers(graph)
    return folded


def _gemm_is_foldable(node) -> bool:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return attrs.get("transB", 0) == 1 and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0


def _drop_unused_initializers(graph: GraphProto) -> None:
    used = {name for n in graph.node for name in n.input} | {o.name for o in graph.output}
    for n in graph.node:
        used |= subgraph_inputs(n)
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
