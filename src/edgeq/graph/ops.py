"""The one table of op roles: which input of an op is its weight, and which weight axes hold output channels
(per-channel scales) and input channels (block scales, MX blocks).

Every module that reads weights out of an ONNX graph (PTQ points, the gate's evaluate runner, the sweep's weights
evaluator, the cost model's workload) asks here, so they cannot disagree on an axis. Layouts per the ONNX spec:
Conv W [M, C/group, k...]; ConvTranspose W [C, M/group, k...]; Gemm B [K, N] or, with transB, [N, K]; MatMul B
[..., K, N].
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import helper

WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


@dataclass(frozen=True)
class WeightRole:
    """Where an op keeps its weight and how that weight's axes map to channels.

    Attributes:
        index: input index of the weight.
        channel_axis: axis of output channels (one scale per channel), None when no single axis holds them
            (grouped ConvTranspose).
        block_axis: axis of input channels, the reduction axis (block scales run along it).
        bias_index: input index of the bias, None when the op has none.
    """

    index: int
    channel_axis: int | None
    block_axis: int
    bias_index: int | None = None


def attributes(node: onnx.NodeProto) -> dict:
    """Return the node's attributes as a name -> Python value dict."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def weight_role(node: onnx.NodeProto, weight_rank: int) -> WeightRole | None:
    """Return the weight role of a Conv/ConvTranspose/Gemm/MatMul node, or None for other ops and layouts."""
    attrs = attributes(node)
    if node.op_type == "Conv":
        return WeightRole(1, 0, 1, 2)
    if node.op_type == "ConvTranspose":
        return WeightRole(1, 1 if attrs.get("group", 1) == 1 else None, 0, 2)
    if node.op_type == "Gemm":
        if attrs.get("transA", 0):
            return None
        return WeightRole(1, 0, 1, 2) if attrs.get("transB", 0) else WeightRole(1, 1, 0, 2)
    if node.op_type == "MatMul" and weight_rank >= 2:
        return WeightRole(1, weight_rank - 1, weight_rank - 2)
    return None
