"""Small ONNX models built in code for the quantize tests: residual Add/Concat, depthwise conv, attention, LSTM."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def _model(nodes, inputs, outputs, inits, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def residual_model(rng: np.random.Generator) -> onnx.ModelProto:
    """Conv -> Relu -> Conv + skip (Add) -> Concat with a 1x1 branch -> Conv -> GlobalAveragePool -> Gemm."""
    c = 8
    w = lambda *s: rng.standard_normal(s) * (1.0 / np.sqrt(np.prod(s[1:])))
    inits = [
        _init("w0", w(c, 3, 3, 3)), _init("b0", rng.standard_normal(c) * 0.1),
        _init("w1", w(c, c, 3, 3)), _init("b1", rng.standard_normal(c) * 0.1),
        _init("w2", w(c, c, 1, 1)),
        _init("w3", w(c, 2 * c, 3, 3)), _init("b3", rng.standard_normal(c) * 0.1),
        _init("wf", w(5, c)), _init("bf", rng.standard_normal(5) * 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c1", "r0"], ["add"], name="skip_add"),
        helper.make_node("Relu", ["add"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="branch"),
        helper.make_node("Concat", ["r1", "c2"], ["cat"], name="concat", axis=1),
        helper.make_node("Conv", ["cat", "w3", "b3"], ["c3"], name="conv3", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c3"], ["r3"], name="relu3"),
        helper.make_node("GlobalAveragePool", ["r3"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    return _model(nodes, [x], [y], inits)


def depthwise_model(rng: np.random.Generator) -> onnx.ModelProto:
    """Pointwise conv -> depthwise 3x3 conv (group = channels) -> BatchNorm -> Relu -> Gemm."""
    c = 6
    inits = [
        _init("pw", rng.standard_normal((c, 2, 1, 1)) * 0.7),
        _init("dw", rng.standard_normal((c, 1, 3, 3)) * 0.4), _init("dwb", rng.standard_normal(c) * 0.1),
        _init("g", 1 + 0.1 * rng.standard_normal(c)), _init("beta", 0.1 * rng.standard_normal(c)),
        _init("mean", 0.1 * rng.standard_normal(c)), _init("var", 1 + 0.1 * rng.random(c)),
        _init("wf", rng.standard_normal((4, c * 16)) * 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "pw"], ["p"], name="pointwise"),
        helper.make_node("Conv", ["p", "dw", "dwb"], ["d"], name="depthwise", group=c, pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["d", "g", "beta", "mean", "var"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    return _model(nodes, [x], [y], inits)


def attention_model(rng: np.random.Generator) -> onnx.ModelProto:
    """LayerNorm -> Q, K, V projections -> softmax(Q K^T / sqrt(d)) V -> output projection (batched MatMul)."""
    t, d = 6, 16
    w = lambda: rng.standard_normal((d, d)) / np.sqrt(d)
    inits = [
        _init("ln_g", 1 + 0.1 * rng.standard_normal(d)), _init("ln_b", 0.1 * rng.standard_normal(d)),
        _init("wq", w()), _init("wk", w()), _init("wv", w()), _init("wo", w()),
        _init("inv_sqrt_d", 1 / np.sqrt(d)),
    ]
    nodes = [
        helper.make_node("LayerNormalization", ["x", "ln_g", "ln_b"], ["ln"], name="ln", axis=-1),
        helper.make_node("MatMul", ["ln", "wq"], ["q"], name="q_proj"),
        helper.make_node("MatMul", ["ln", "wk"], ["k"], name="k_proj"),
        helper.make_node("MatMul", ["ln", "wv"], ["v"], name="v_proj"),
        helper.make_node("Transpose", ["k"], ["kt"], name="k_t", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="qk"),
        helper.make_node("Mul", ["scores", "inv_sqrt_d"], ["scaled"], name="scale"),
        helper.make_node("Softmax", ["scaled"], ["attn"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["attn", "v"], ["ctx"], name="attn_v"),
        helper.make_node("MatMul", ["ctx", "wo"], ["y"], name="out_proj"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", t, d])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", t, d])
    return _model(nodes, [x], [y], inits)


def lstm_model(rng: np.random.Generator) -> onnx.ModelProto:
    """MatMul input projection -> LSTM (time major, as onnxruntime requires) -> Flatten -> Gemm classifier."""
    t, d, h = 5, 8, 12
    inits = [
        _init("w_in", rng.standard_normal((d, d)) / np.sqrt(d)),
        _init("W", rng.standard_normal((1, 4 * h, d)) * 0.3),
        _init("R", rng.standard_normal((1, 4 * h, h)) * 0.3),
        _init("B", rng.standard_normal((1, 8 * h)) * 0.1),
        _init("wf", rng.standard_normal((3, t * h)) * 0.2), _init("bf", np.zeros(3)),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w_in"], ["proj"], name="in_proj"),
        helper.make_node("Transpose", ["proj"], ["proj_t"], name="to_time_major", perm=[1, 0, 2]),
        helper.make_node("LSTM", ["proj_t", "W", "R", "B"], ["seq"], name="lstm", hidden_size=h),
        helper.make_node("Transpose", ["seq"], ["seq_b"], name="to_batch_major", perm=[2, 0, 1, 3]),
        helper.make_node("Flatten", ["seq_b"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["y"], name="classifier", transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", t, d])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    return _model(nodes, [x], [y], inits)


def inputs_for(model: onnx.ModelProto, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Return n random normal samples for the model's (single) input."""
    v = model.graph.input[0]
    shape = [n] + [d.dim_value for d in v.type.tensor_type.shape.dim[1:]]
    return {v.name: rng.standard_normal(shape).astype(np.float32)}
