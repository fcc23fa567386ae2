"""Pre-quantization cleanups: every node gets a unique name; Constant nodes become initializers; Identity and
inference-time Dropout go away."""

from __future__ import annotations

from onnx import GraphProto, helper, numpy_helper

from .util import consumers


def constants_to_initializers(graph: GraphProto) -> int:
    """Turn Constant nodes holding a tensor into initializers (so their weights can be quantized); return count."""
    count = 0
    for node in [n for n in graph.node if n.op_type == "Constant"]:
        attr = next((a for a in node.attribute if a.name == "value"), None)
        if attr is None:
            continue
        array = numpy_helper.to_array(helper.get_attribute_value(attr))
        graph.initializer.append(numpy_helper.from_array(array, node.output[0]))
        graph.node.remove(node)
        count += 1
    return count


def remove_identities(graph: GraphProto) -> int:
    """Remove Identity and Dropout (inference) nodes whose output is not a graph output; return count."""
    outputs = {o.name for o in graph.output}
    count = 0
    for node in [n for n in graph.node if n.op_type in ("Identity", "Dropout")]:
        if node.output[0] in outputs or (node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]):
            continue
        src, dst = node.input[0], node.output[0]
        for reader in consumers(graph).get(dst, []):
            for i, name in enumerate(reader.input):
                if name == dst:
                    reader.input[i] = src
        graph.node.remove(node)
        count += 1
    return count


def name_nodes(graph: GraphProto) -> int:
    """Give every unnamed or duplicate-named node a unique name `<op_type>_<k>` (reports and overrides name nodes)."""
    seen: set[str] = set()
    count = 0
    for k, node in enumerate(graph.node):
        if not node.name or node.name in seen:
            base = f"{node.op_type}_{k}"
            name, i = base, 1
            while name in seen:
                name, i = f"{base}_{i}", i + 1
            node.name = name
            count += 1
        seen.add(node.name)
    return count
