"""The op-role table: scaling the weight along `channel_axis` must scale exactly one output channel in onnxruntime."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeq.graph.ops import weight_role

RNG = np.random.default_rng(0)

# op, attributes, input shape, weight shape, output channel axis of the op's OUTPUT tensor
CASES = [
    ("Conv", {}, [1, 3, 5, 5], [4, 3, 3, 3], 1),
    ("Conv", {"group": 3}, [1, 3, 5, 5], [6, 1, 3, 3], 1),
    ("ConvTranspose", {}, [1, 3, 4, 4], [3, 5, 3, 3], 1),
    ("Gemm", {"transB": 0}, [2, 6], [6, 4], 1),
    ("Gemm", {"transB": 1}, [2, 6], [4, 6], 1),
    ("MatMul", {}, [2, 3, 6], [6, 4], 2),
]


def _run(op, attrs, x, w):
    node = helper.make_node(op, ["x", "w"], ["y"], **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0], node


@pytest.mark.parametrize("op,attrs,x_shape,w_shape,out_axis", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_channel_axis_scales_one_output_channel(op, attrs, x_shape, w_shape, out_axis):
    x = RNG.standard_normal(x_shape).astype(np.float32)
    w = RNG.standard_normal(w_shape).astype(np.float32)
    y, node = _run(op, attrs, x, w)
    role = weight_role(node, len(w_shape))
    assert role is not None and role.index == 1
    w2 = w.copy()
    idx = [slice(None)] * w.ndim
    idx[role.channel_axis] = 1
    w2[tuple(idx)] *= 2.0
    y2, _ = _run(op, attrs, x, w2)
    ratio = np.moveaxis(y2, out_axis, 0).reshape(y.shape[out_axis], -1) / np.moveaxis(y, out_axis, 0).reshape(
        y.shape[out_axis], -1)
    np.testing.assert_allclose(ratio[1], 2.0, rtol=1e-4)
    np.testing.assert_allclose(np.delete(ratio, 1, axis=0), 1.0, rtol=1e-4)


def test_block_axis_is_the_reduction_axis():
    for op, attrs, _, w_shape, _ in CASES:
        node = helper.make_node(op, ["x", "w"], ["y"], **attrs)
        role = weight_role(node, len(w_shape))
        reduction = {"Conv": 1, "ConvTranspose": 0, "MatMul": len(w_shape) - 2}.get(op)
        if op == "Gemm":
            reduction = 1 if attrs["transB"] else 0
        assert role.block_axis == reduction


def test_grouped_conv_transpose_has_no_single_channel_axis():
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], group=2)
    assert weight_role(node, 4).channel_axis is None
    assert weight_role(helper.make_node("Gemm", ["a", "b"], ["y"], transA=1), 2) is None
