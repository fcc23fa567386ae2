"""Graph passes: exact fake-quant patterns, Relu guard, BatchNorm folding, QDQ types and opsets, export API."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from quantize_helpers import depthwise_model, inputs_for, residual_model

from edgeq.ptq.export import TensorQuant, check_fidelity, export_quantized, reference_outputs
from edgeq.graph.fake_quant_pattern import activation_pattern, weight_decode_pattern
from edgeq.graph.fold_bn import fold_batchnorm


def _run_graph(nodes, inits, inputs, out_shape, feeds):
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    onnx.checker.check_model(m)
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.mark.parametrize("fmt", ["fp8_e3m4", "fp8_e2m5", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "fp8_e4m3", "e5m2", "int3",
                                 "uint5"])
def test_activation_pattern_is_bit_exact_with_the_edgeq_kernels(fmt):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(4000) * 3, rng.standard_normal(1000) * 1e-3, [0.0, -0.0, 1e6, -1e6]])
    x = x.astype(np.float32)
    zp = np.int64(3) if fmt == "uint5" else None
    entry = TensorQuant("x", fmt, np.array(0.37, np.float32), zero_point=zp)
    nodes, inits = activation_pattern("x", "y", entry)
    y = _run_graph(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])], [x.size], {"x": x})
    np.testing.assert_array_equal(y, entry.apply(x))


@pytest.mark.parametrize("fmt,block", [("fp8_e3m4", None), ("fp6_e3m2", None), ("fp4", None), ("int3", None),
                                       ("fp8_e4m3", 4), ("mxfp4", None), ("mxint8", None), ("mxfp6_e2m3", None)])
def test_weight_decode_pattern_is_bit_exact(fmt, block):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 40)).astype(np.float32)
    if fmt.startswith("mx"):
        entry = TensorQuant("w", fmt, np.array(1.0, np.float32), axis=1, role="weight")
    elif block:
        scale = (np.abs(w).reshape(6, 10, 4).max(-1) / 100).astype(np.float32)
        entry = TensorQuant("w", fmt, scale, axis=1, block_size=block, role="weight")
    else:
        entry = TensorQuant("w", fmt, (np.abs(w).max(1) / 3).astype(np.float32), axis=0, role="weight")
    nodes, inits, stored = weight_decode_pattern(entry, w, "y")
    y = _run_graph(nodes, inits, [], list(w.shape), {})
    np.testing.assert_array_equal(y, entry.apply(w))
    assert stored < w.nbytes


def test_fp8_export_guards_every_relu_and_ort_default_matches_the_reference():
    rng = np.random.default_rng(2)
    model = residual_model(rng)
    plan = [TensorQuant(t, "fp8_e4m3", np.array(0.05, np.float32)) for t in ("r0", "c1", "r1", "c2", "cat", "flat")]
    plan += [TensorQuant(w, "fp8_e4m3", np.array(0.01, np.float32), role="weight") for w in ("w1", "w3", "wf")]
    model_q, _ = export_quantized(model, plan)
    onnx.checker.check_model(model_q)
    assert not [n for n in model_q.graph.node if n.op_type == "Relu"]
    assert max(o.version for o in model_q.opset_import if o.domain == "") >= 19
    data = inputs_for(model, 40, rng)
    reference = reference_outputs(model, plan, data)
    fidelity, outputs = check_fidelity(model_q, reference, data)
    assert fidelity["ort_disable_all"].sqnr_db == float("inf"), fidelity  # same numerics, bit for bit
    # default: fused float kernels (Conv + Add) round differently, so an FP8 code may flip; function is unchanged
    assert fidelity["ort_default"].ok and fidelity["ort_default"].agreement == 1.0, fidelity


def test_uint8_export_keeps_relu_for_fusion_and_int4_blocks_use_opset21():
    rng = np.random.default_rng(3)
    model = residual_model(rng)
    w3 = onnx.numpy_helper.to_array([t for t in model.graph.initializer if t.name == "w3"][0])
    scale = (np.abs(w3).reshape(8, 4, 4, 3, 3).max(2) / 7).astype(np.float32)
    plan = [TensorQuant("cat", "uint8", np.array(0.05, np.float32), zero_point=np.int64(0)),
            TensorQuant("w3", "int4", scale, axis=1, block_size=4, role="weight")]
    model_q, stored = export_quantized(model, plan)
    onnx.checker.check_model(model_q)
    assert [n for n in model_q.graph.node if n.op_type == "Relu"]
    dq = [n for n in model_q.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "w3_q"][0]
    assert {a.name: a.i for a in dq.attribute}["block_size"] == 4
    assert [o.version for o in model_q.opset_import if o.domain == ""] == [21]
    assert stored["w3"] == w3.size // 2 + scale.nbytes
    data = inputs_for(model, 20, rng)
    fidelity, _ = check_fidelity(model_q, reference_outputs(model, plan, data), data)
    assert all(f.ok for f in fidelity.values())


def test_batchnorm_folding_keeps_the_function():
    rng = np.random.default_rng(4)
    model = depthwise_model(rng)
    data = inputs_for(model, 16, rng)
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, data)[0]
    before = run(model)
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    assert fold_batchnorm(folded.graph) == 1
    assert not [n for n in folded.graph.node if n.op_type == "BatchNormalization"]
    np.testing.assert_allclose(run(folded), before, rtol=1e-4, atol=1e-5)


def test_clip_with_bounds_computed_at_run_time_is_guarded_with_the_same_tensors():
    """An audio front-end clips with bounds computed in the graph; with an FP8 (sign-symmetric) range the guard
    rewrites it as Max/Min reading the same bound tensors, and the model still runs and matches."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from edgeq.graph.relu_guard import guard_relus

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "w")
    lo = numpy_helper.from_array(np.array(-0.5, np.float32), "lo0")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
        helper.make_node("ReduceMax", ["h"], ["hmax"], name="rmax", keepdims=0),
        helper.make_node("Mul", ["hmax", "lo0"], ["lo"], name="lo"),
        helper.make_node("Clip", ["h", "lo", "hmax"], ["y"], name="clip"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [w, lo])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((2, 4)).astype(np.float32)
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    before = run(model)
    entry = TensorQuant("h", "fp8_e4m3", np.float32(0.01))
    assert guard_relus(model.graph, [entry]) == 1
    assert [n.op_type for n in model.graph.node][-2:] == ["Max", "Min"]
    np.testing.assert_array_equal(run(model), before)
