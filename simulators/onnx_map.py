"""Which ONNX nodes go on crossbar tiles, as which weight matrices, and what the tile layout costs.

A node goes on tiles when one operand is a constant (an initializer or a Constant node, as PaddlePaddle exports
store weights): MatMul with a constant on either side, Gemm with either transB, Conv and ConvTranspose (1-D and
2-D, any group count). A grouped convolution's groups are packed onto tiles in one of two ways, as a chip would:
- "block": block-diagonal within a tile: as many groups as fit share one tile, each on its own rows and columns.
  Few tiles, but the off-diagonal cells are real devices at G_min: they carry programming noise, drift and read
  noise into the columns they share with the group's own cells, and most of the tile is unused.
- "per_group": one small tile per group (k_g x n_g cells): no shared columns, all cells used, but one set of
  periphery (DAC rows, ADC columns) per group.
Every other matrix product stays digital, and `DigitalNode.reason` says why (e.g. attention's activation x
activation MatMul).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgeq.errors import ConfigError

__all__ = ["GROUP_MAPPINGS", "AnalogNode", "Block", "DigitalNode", "NodeMap", "constants", "map_node",
           "subgraph_matrix_ops"]

GROUP_MAPPINGS = ("block", "per_group")
MATRIX_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose")


@dataclass(frozen=True)
class AnalogNode:
    """One ONNX node whose weight lives on crossbar tiles, with the layout's size and cell utilisation."""

    name: str
    op_type: str
    in_features: int
    """Rows of the node's logical weight matrix (all groups side by side)."""
    out_features: int
    tiles: int
    """Physical tiles (times weight slices) the node occupies."""
    groups: int = 1
    group_mapping: str | None = None
    """"block" or "per_group" for grouped convolutions, None otherwise."""
    tile_rows: int = 0
    tile_cols: int = 0
    """Shape of the tiles used: the preset's tile, or the small per-group tile."""
    utilisation: float = 1.0
    """Weights stored / cells on the node's tiles (differential pairs count as one cell)."""


@dataclass(frozen=True)
class DigitalNode:
    """A matrix-product node that stays digital (float), and why."""

    name: str
    op_type: str
    reason: str


@dataclass(frozen=True)
class Block:
    """One programmed array: its (in, out) matrix reads input columns [in_lo, in_hi) and writes [out_lo, out_hi)."""

    in_lo: int
    in_hi: int
    out_lo: int
    out_hi: int
    matrix: np.ndarray


@dataclass(frozen=True)
class NodeMap:
    """How one node runs on tiles: its kind (matmul, matmul_left, gemm, conv, convtranspose) and its blocks."""

    node: onnx.NodeProto
    kind: str
    blocks: tuple[Block, ...]
    info: AnalogNode
    kernel: tuple[int, ...] = ()
    """Spatial kernel shape of Conv/ConvTranspose."""


def constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Return the model's constant tensors: initializers and the outputs of Constant nodes with a tensor value."""
    out = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            out[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return out


def attrs(node: onnx.NodeProto) -> dict:
    """Return a node's attributes as a name -> Python value dict."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def subgraph_matrix_ops(node: onnx.NodeProto) -> int:
    """Return how many matrix products (and LSTM/GRU) the subgraphs of an If/Loop/Scan node hold, recursively."""
    count = 0
    for a in node.attribute:
        for g in [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs):
            count += sum(1 for n in g.node if n.op_type in (*MATRIX_OPS, "LSTM", "GRU"))
            count += sum(subgraph_matrix_ops(n) for n in g.node)
    return count


def map_node(
    node: onnx.NodeProto, consts: dict[str, np.ndarray], rows: int, cols: int, slices: int, group_mapping: str
) -> NodeMap | DigitalNode | None:
    """Return the node's tile mapping, a DigitalNode saying why it stays digital, or None for non-matrix ops."""
    if node.op_type not in MATRIX_OPS:
        inside = subgraph_matrix_ops(node)
        if inside:
            return DigitalNode(node.name or node.output[0], node.op_type,
                               f"control flow: its subgraphs run in float, so their {inside} matrix product(s) are "
                               "not on tiles")
        return None
    if group_mapping not in GROUP_MAPPINGS:
        raise ConfigError(f"group mapping must be one of {', '.join(GROUP_MAPPINGS)}, got {group_mapping!r}")
    name = node.name or node.output[0]
    a = attrs(node)
    first, second = (node.input[0] in consts), (len(node.input) > 1 and node.input[1] in consts)

    def digital(reason: str) -> DigitalNode:
        return DigitalNode(name, node.op_type, reason)

    if node.op_type == "MatMul":
        if first and second:
            return digital("both operands are constants (a constant product, folded before deployment)")
        if not first and not second:
            return digital("both operands are activations (attention-style product): no stationary weight")
        w = consts[node.input[1] if second else node.input[0]]
        if w.ndim != 2:
            return digital(f"the constant operand is {w.ndim}-D (a batch of matrices), not one weight matrix")
        matrix = w if second else w.T
        return _single(node, name, "matmul" if second else "matmul_left", matrix, rows, cols, slices)
    if node.op_type == "Gemm":
        if not second:
            return digital("operand B is an activation, not a stationary weight")
        b = consts[node.input[1]]
        return _single(node, name, "gemm", b.T if a.get("transB", 0) else b, rows, cols, slices)
    if not second:
        return digital("the weight is computed at run time, not a constant")
    w = consts[node.input[1]]
    if w.ndim not in (3, 4):
        return digital(f"{w.ndim - 2}-D {node.op_type} is not mapped (1-D and 2-D are)")
    if node.op_type == "ConvTranspose" and "output_shape" in a:
        return digital("ConvTranspose with an explicit output_shape is not mapped (give pads instead)")
    if node.op_type == "ConvTranspose" and _auto_pad(a) != "NOTSET":
        return digital("ConvTranspose with auto_pad is not mapped (give explicit pads)")
    groups = int(a.get("group", 1))
    kernel = tuple(int(k) for k in w.shape[2:])
    if node.op_type == "Conv":  # w: (M, C/g, *k) -> per group (C/g * K, M/g)
        per_out = w.shape[0] // groups
        mats = w.reshape(groups, per_out, -1).transpose(0, 2, 1)
    else:  # ConvTranspose w: (C, M/g, *k) -> per group (C/g, M/g * K), outputs ordered (channel, kernel position)
        per_in = w.shape[0] // groups
        mats = w.reshape(groups, per_in, -1)
    return _grouped(node, name, node.op_type.lower(), mats, kernel, rows, cols, slices,
                    group_mapping if groups > 1 else None)


def _auto_pad(a: dict) -> str:
    value = a.get("auto_pad", "NOTSET")
    return value.decode() if isinstance(value, bytes) else value


def _tiles(k: int, n: int, rows: int, cols: int) -> int:
    return -(-k // rows) * -(-n // cols)


def _single(node, name: str, kind: str, matrix: np.ndarray, rows: int, cols: int, slices: int) -> NodeMap:
    m = np.asarray(matrix, dtype=np.float64)
    k, n = m.shape
    tiles = _tiles(k, n, rows, cols)
    info = AnalogNode(name, node.op_type, k, n, tiles * slices, 1, None, rows, cols, k * n / (tiles * rows * cols))
    return NodeMap(node, kind, (Block(0, k, 0, n, m),), info)


def _grouped(node, name: str, kind: str, mats: np.ndarray, kernel: tuple[int, ...], rows: int, cols: int,
             slices: int, mapping: str | None) -> NodeMap:
    """Pack the (groups, k_g, n_g) per-group matrices into blocks: p groups block-diagonal per array."""
    groups, k_g, n_g = mats.shape
    fits = k_g <= rows and n_g <= cols
    p = min(rows // k_g, cols // n_g, groups) if mapping == "block" and fits else 1
    blocks, tiles = [], 0
    for g0 in range(0, groups, p):
        q = min(p, groups - g0)
        m = np.zeros((q, k_g, q, n_g), dtype=np.float64)
        m[np.arange(q), :, np.arange(q), :] = mats[g0 : g0 + q]  # fancy axes first: (q, k_g, n_g)
        blocks.append(Block(g0 * k_g, (g0 + q) * k_g, g0 * n_g, (g0 + q) * n_g, m.reshape(q * k_g, q * n_g)))
        if mapping != "per_group":
            tiles += _tiles(q * k_g, q * n_g, rows, cols)
    if mapping == "per_group":  # each group on its own small tile(s) of at most the preset's size
        t_rows, t_cols = min(k_g, rows), min(n_g, cols)
        tiles = groups * _tiles(k_g, n_g, t_rows, t_cols)
    else:
        t_rows, t_cols = rows, cols
    utilisation = groups * k_g * n_g / (tiles * t_rows * t_cols)
    info = AnalogNode(name, node.op_type, groups * k_g, groups * n_g, tiles * slices, groups, mapping, t_rows,
                      t_cols, utilisation)
    return NodeMap(node, kind, tuple(blocks), info, kernel)
