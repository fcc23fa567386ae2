"""Small helpers shared by the graph passes: lookups, opset handling, scale broadcasting."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto


def initializer_map(graph: GraphProto) -> dict[str, onnx.TensorProto]:
    """Return initializer name -> TensorProto."""
    return {t.name: t for t in graph.initializer}


def consumers(graph: GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Return tensor name -> nodes reading it (top-level graph only)."""
    out: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            if name:
                out.setdefault(name, []).append(node)
    return out


def producers(graph: GraphProto) -> dict[str, onnx.NodeProto]:
    """Return tensor name -> the node writing it."""
    return {o: n for n in graph.node for o in n.output if o}


def opset_version(model: onnx.ModelProto) -> int:
    """Return the default-domain opset of the model."""
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            return int(op.version)
    return 1


def expand_scale(scale, shape: tuple[int, ...], axis: int | None, block_size: int | None) -> np.ndarray:
    """Return a per-tensor/channel/block scale broadcastable against a tensor of `shape`."""
    scale = np.asarray(scale, dtype=np.float32)
    if axis is None or scale.ndim == 0:
        return scale
    if block_size is None:
        return scale.reshape([-1 if d == axis else 1 for d in range(len(shape))])
    return np.repeat(scale, block_size, axis=axis).take(np.arange(shape[axis]), axis=axis)


def subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Return names a node's subgraphs (If/Loop/Scan bodies) read from the outer scope."""
    names: set[str] = set()
    for attr in node.attribute:
        graphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
        for g in graphs:
            local = {i.name for i in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                local.update(n.output)
            for n in g.node:
                names.update(i for i in n.input if i and i not in local)
                names.update(subgraph_inputs(n) - local)
    return names


def splice_nodes(graph: GraphProto, head: list, after: dict[str, list], renamed: dict[str, str],
                 sources: list[str]) -> None:
    """Rewrite the graph's node list in place: `head` first, then each node with its inputs renamed per `renamed`
    followed by the nodes of `after[tensor]` for each tensor it produces; `after` entries for `sources` (graph
    inputs, initializers: tensors no node produces) join the head. ValueError when an `after` tensor is never
    produced."""
    producers = {o for n in graph.node for o in n.output}
    ordered = list(head)
    for name in sources:
        if name not in producers:
            ordered.extend(after.pop(name, []))
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        ordered.append(node)
        for out_name in node.output:
            ordered.extend(after.pop(out_name, []))
    if after:
        raise ValueError(f"nodes to insert after tensors no node produces: {sorted(after)[:5]}")
    del graph.node[:]
    graph.node.extend(ordered)
