"""Issue 16, latency: the Relu guard only where ORT changes the result, integer kernels fused, report as written."""

import numpy as np
import pytest

import edgeq


@pytest.fixture(scope="module")
def signed_digits():
    """The digits data shifted by -0.5: every activation quantizer of the model input spans negatives."""
    calib, ev = np.load("examples/digits_calib.npz"), np.load("examples/digits_eval.npz")
    name = [k for k in calib.files if k != "labels"][0]
    return {name: calib[name][:128] - 0.5}, {name: ev[name][:256] - 0.5, "labels": ev["labels"][:256]}


def _quantize(data, config):
    calib, ev = data
    return edgeq.quantize("examples/digits_cnn.onnx", config, calib=calib, eval=ev, progress=False)


def _ops(model):
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("acts", ["uint8", "int8"])
def test_integer_activations_keep_relu_and_ort_default_matches_the_reference(signed_digits, acts):
    res = _quantize(signed_digits, {"acts": acts})
    ops = _ops(res.model)
    assert "Max" not in ops and ops.count("Relu") == 4
    assert res.report.fidelity_ok, res.report.fidelity  # ReluQuantRewrite is exact for integer types
    assert res.report.float_ops.get("Relu") == 4 and "Max" not in res.report.float_ops


def test_uint8_with_signed_input_runs_every_conv_as_an_integer_kernel(signed_digits):
    res = _quantize(signed_digits, "int8")
    ran = res.report.runtime_ops
    assert ran.get("QLinearConv") == 3, ran
    assert not {"Conv", "FusedConv"} & set(ran), ran


def test_fp8_guards_relus_and_the_report_names_the_guard_ops(signed_digits):
    res = _quantize(signed_digits, "fp8_e4m3")
    ops = _ops(res.model)
    assert "Relu" not in ops and ops.count("Max") == 4
    assert res.report.float_ops.get("Max") == 4 and "Relu" not in res.report.float_ops
    assert res.report.fidelity["ort_default"]["ok"], res.report.fidelity


def _act_cnn(act: str):
    """Conv -> act -> depthwise Conv -> act -> 1x1 Conv -> act -> GlobalAveragePool -> Gemm (MobileNet-style)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, x, c = [], [], "x", 3
    for i, (co, g, k) in enumerate([(8, 1, 3), (8, 8, 3), (16, 1, 1)]):
        w = rng.standard_normal((co, c // g, k, k)) / np.sqrt(c // g * k * k)
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                  numpy_helper.from_array((0.1 * rng.standard_normal(co)).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], name=f"conv{i}", group=g,
                                      pads=[k // 2] * 4))
        if act == "SiLU":
            nodes += [helper.make_node("Sigmoid", [f"c{i}"], [f"s{i}"], name=f"sig{i}"),
                      helper.make_node("Mul", [f"c{i}", f"s{i}"], [f"a{i}"], name=f"mul{i}")]
        else:
            nodes.append(helper.make_node(act, [f"c{i}"], [f"a{i}"], name=f"act{i}"))
        x, c = f"a{i}", co
    inits.append(numpy_helper.from_array((0.3 * rng.standard_normal((4, c))).astype(np.float32), "wf"))
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "act", [helper.make_tensor_value_info("x", 1, ["N", 3, 16, 16])],
                              [helper.make_tensor_value_info("y", 1, ["N", 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, {"x": rng.standard_normal((32, 3, 16, 16)).astype(np.float32)}


@pytest.mark.parametrize("act", ["HardSwish", "SiLU"])
def test_convs_before_hardswish_and_silu_run_as_integer_kernels(act):
    model, data = _act_cnn(act)
    res = edgeq.quantize(model, "int8", calib=data, progress=False)
    ran = res.report.runtime_ops
    assert ran.get("QLinearConv") == 3 and "Conv" not in ran, ran
    if act == "SiLU":
        assert ran.get("QLinearSigmoid") == 3, ran  # Sigmoid * x runs in integers too
    assert res.report.fidelity_ok, res.report.fidelity
    trt = edgeq.quantize(model, {"fmt": "int8", "target": "tensorrt"}, calib=data, progress=False)
    assert not [t for t in trt.tensors if t.startswith("c") and trt.tensors[t].role == "activation"]


def test_a_residual_add_of_silu_outputs_feeding_a_concat_runs_as_qlinearadd():
    """YOLOv8's C2f block: Add(SiLU(conv0), SiLU(conv1)) -> Concat -> Conv; the Add reads no weighted op."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(1)
    w = lambda *s: numpy_helper.from_array((rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32),  # noqa: E731
                                           f"w{len(s)}_{s[0]}_{s[1]}")
    w0, w1, w2 = w(8, 3, 3, 3), w(8, 8, 3, 3), w(4, 16, 1, 1)
    nodes = [helper.make_node("Conv", ["x", w0.name], ["c0"], name="conv0", pads=[1] * 4),
             helper.make_node("Sigmoid", ["c0"], ["s0"], name="sig0"),
             helper.make_node("Mul", ["c0", "s0"], ["r0"], name="silu0"),
             helper.make_node("Conv", ["r0", w1.name], ["c1"], name="conv1", pads=[1] * 4),
             helper.make_node("Sigmoid", ["c1"], ["s1"], name="sig1"),
             helper.make_node("Mul", ["c1", "s1"], ["r1"], name="silu1"),
             helper.make_node("Add", ["r0", "r1"], ["res"], name="residual"),
             helper.make_node("Concat", ["res", "r0"], ["cat"], name="concat", axis=1),
             helper.make_node("Conv", ["cat", w2.name], ["y"], name="conv2")]
    graph = helper.make_graph(nodes, "res", [helper.make_tensor_value_info("x", 1, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", 1, ["N", 4, 8, 8])], [w0, w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    res = edgeq.quantize(model, "int8", calib={"x": rng.standard_normal((16, 3, 8, 8)).astype(np.float32)},
                         progress=False)
    assert res.report.runtime_ops.get("QLinearAdd") == 1 and "Add" not in res.report.runtime_ops, res.report.runtime_ops
    assert res.report.fidelity_ok
