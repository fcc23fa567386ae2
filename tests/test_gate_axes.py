"""The gate's evaluate runner quantizes each weight per output channel on the axis its op defines (graph.ops):
Conv 0, ConvTranspose 1 (group 1), Gemm 0 with transB else 1, MatMul the last axis. Axis 0 everywhere, the old
rule, crushes the small output channels of MatMul, Gemm(transB=0) and ConvTranspose weights."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeq.gate.runners.evaluate import _weight_initializers, fake_quant_weight

INT4_MAX = 7.0


def _model(op: str, w: np.ndarray, **attrs) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node(op, ["x", "w"], ["y"], name="n", **attrs)
    graph = helper.make_graph([node], "g", [x], [y], [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph)


def _weight(shape: tuple[int, ...], out_axis: int) -> np.ndarray:
    """Random weights whose output channels span three decades of magnitude."""
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, shape).astype(np.float32)
    gains = np.logspace(-3, 0, shape[out_axis]).astype(np.float32)
    return w * np.expand_dims(gains, [a for a in range(len(shape)) if a != out_axis])


CASES = [  # op, attrs, weight shape, output-channel axis
    ("Conv", {}, (6, 3, 3, 3), 0),
    ("ConvTranspose", {}, (3, 6, 3, 3), 1),
    ("Gemm", {"transB": 1}, (6, 5), 0),
    ("Gemm", {"transB": 0}, (5, 6), 1),
    ("MatMul", {}, (5, 6), 1),
    ("MatMul", {}, (2, 5, 6), 2),
]


@pytest.mark.parametrize("op, attrs, shape, out_axis", CASES, ids=[f"{c[0]}{c[1]}{len(c[2])}d" for c in CASES])
def test_each_output_channel_keeps_its_own_int4_scale(op, attrs, shape, out_axis):
    w = _weight(shape, out_axis)
    role = _weight_initializers(_model(op, w, **attrs))["w"]
    assert role is not None and role.channel_axis == out_axis
    q = fake_quant_weight(w, "int4", role)
    per_channel = np.moveaxis(w, out_axis, 0).reshape(shape[out_axis], -1)
    err = np.moveaxis(np.abs(q - w), out_axis, 0).reshape(shape[out_axis], -1)
    step = np.abs(per_channel).max(axis=1) / INT4_MAX
    # Round to nearest: every element within half of its own channel's step, the smallest channel included.
    assert np.all(err <= 0.5 * step[:, None] * (1 + 1e-5))
    assert np.all(np.count_nonzero(np.moveaxis(q, out_axis, 0).reshape(shape[out_axis], -1), axis=1) > 0)


def test_axis_zero_would_have_failed_the_check():
    """The check above can fail: the old axis-0 rule zeroes the small output channels of a MatMul weight."""
    w = _weight((5, 6), 1)
    absmax = np.abs(w).max(axis=1, keepdims=True)
    old = np.round(w / (absmax / INT4_MAX)).clip(-8, 7) * (absmax / INT4_MAX)
    assert np.any(np.all(old == 0, axis=0))  # whole output channels lost
