"""Issue 16, runtime targets: each preset's formats, its static checks on the written graph, and that they fail."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgeq
from edgeq.cpu import cpu_flags, int8_kernels
from edgeq.errors import ConfigError
from edgeq.graph.plan import TensorQuant
from edgeq.graph.relu_guard import guard_relus
from edgeq.graph.target_checks import check_target
from edgeq.ptq import QuantConfig

DATA = {"calib": "examples/digits_calib.npz", "eval": "examples/digits_eval.npz"}


@pytest.fixture(scope="module")
def digits():
    """target -> quantized digits CNN (int8 preset)."""
    return {t: edgeq.quantize("examples/digits_cnn.onnx", {"fmt": "int8", "target": t}, progress=False, **DATA)
            for t in ("ort-cpu", "tensorrt", "qnn", "generic")}


def _types(model, op):
    inits = {t.name: t for t in model.graph.initializer}
    return {inits[n.input[2]].data_type for n in model.graph.node if n.op_type == op and len(n.input) > 2}


def test_cpu_detection_reads_vnni_amx_and_arm_dot_product():
    assert int8_kernels(frozenset({"avx2", "avx512_vnni"}), "x86_64").exact
    assert int8_kernels(frozenset({"amx_int8"}), "x86_64").feature == "amx_int8"
    plain = int8_kernels(frozenset({"avx2", "fma"}), "x86_64")
    assert not plain.exact and plain.describe() == "this CPU has no VNNI"
    assert int8_kernels(frozenset({"asimd", "asimddp"}), "aarch64").exact
    assert "avx" in " ".join(cpu_flags("processor : 0\nflags : fpu avx2 avx512_vnni\n"))


def test_presets_choose_each_runtimes_formats(digits):
    assert {t: (r.report.weights, r.report.acts) for t, r in digits.items()} == {
        "ort-cpu": ("int8", "uint8"), "tensorrt": ("int8", "int8"), "qnn": ("int8", "uint8"),
        "generic": ("int8", "uint8")}
    assert _types(digits["tensorrt"].model, "QuantizeLinear") == {TensorProto.INT8}
    assert not [t for t in digits["tensorrt"].model.graph.initializer if t.data_type == TensorProto.INT32]
    assert QuantConfig.from_options("w8a16", target="qnn").acts.name == "uint16"
    assert QuantConfig.from_options("fp8", target="tensorrt").acts.name == "fp8_e4m3"
    with pytest.raises(ConfigError, match="qnn"):
        QuantConfig.from_options("fp8_e4m3", target="qnn")
    with pytest.raises(ConfigError, match="tensorrt"):
        QuantConfig.from_options("int8", acts="uint8", target="tensorrt")
    with pytest.raises(ConfigError, match="unknown target"):
        QuantConfig.from_options("int8", target="tpu")
    for target in ("ort-cpu", "tensorrt", "qnn", "generic"):  # the report embeds the config: it must round-trip
        config = QuantConfig.from_options("int8", target=target)
        assert config.to_dict()["target"] == target and QuantConfig.from_dict(config.to_dict()) == config
    weight_only = QuantConfig.from_options("int8", weights="int4", acts="float")
    assert weight_only.weight_only and QuantConfig.from_dict(weight_only.to_dict()) == weight_only


def test_ort_cpu_uses_full_range_weights_only_where_the_cpu_is_exact(digits):
    codes = {t.name: numpy_helper.to_array(t) for t in digits["ort-cpu"].model.graph.initializer
             if t.data_type == TensorProto.INT8}
    full = max(int(np.abs(c).max()) for c in codes.values())
    generic = max(int(np.abs(numpy_helper.to_array(t)).max()) for t in digits["generic"].model.graph.initializer
                  if t.data_type == TensorProto.INT8)
    assert generic <= 64
    if int8_kernels().exact:
        assert full == 127 and digits["ort-cpu"].report.sqnr_db > digits["generic"].report.sqnr_db
        assert any("full-range int8 weights" in n for n in digits["ort-cpu"].report.notes)
    else:
        assert full <= 64 and any("7-bit range (this CPU has no VNNI)" in n for n in digits["ort-cpu"].report.notes)
    assert digits["ort-cpu"].report.fidelity_ok


@pytest.mark.parametrize("target", ["ort-cpu", "tensorrt", "qnn", "generic"])
def test_each_preset_passes_its_own_checks_and_runs_as_simulated(digits, target):
    rep = digits[target].report
    assert rep.target_check["ok"], rep.target_check
    assert check_target(digits[target].model, target).ok
    assert rep.fidelity_ok and rep.sqnr_db > 35.0


def test_checks_fail_on_graphs_that_break_the_rules(digits):
    trt = check_target(digits["generic"].model, "tensorrt").violations
    assert any("(int32)" in v for v in trt) and any("(uint8): TensorRT Q/DQ takes int8" in v for v in trt)
    assert any("uint8 or uint16" in v for v in check_target(digits["tensorrt"].model, "qnn").violations)
    guarded = onnx.ModelProto()
    guarded.CopyFrom(digits["ort-cpu"].model)
    guard_relus(guarded.graph, [TensorQuant("x", "fp8_e4m3", np.array(1.0, np.float32))])
    assert any("Relu guard" in v for v in check_target(guarded, "ort-cpu", int8_exact=True).violations)
    full = check_target(digits["generic"].model, "ort-cpu", int8_exact=False)
    assert full.ok  # 7-bit codes are exact everywhere
    model = digits["ort-cpu"].model
    if int8_kernels().exact:
        assert any("no VNNI" in v for v in check_target(model, "ort-cpu", int8_exact=False).violations)
    bad_axis = onnx.ModelProto()
    bad_axis.CopyFrom(digits["tensorrt"].model)
    dq = next(n for n in bad_axis.graph.node if n.op_type == "DequantizeLinear" and n.name.startswith("conv1"))
    dq.attribute[0].i = 1
    assert any("output-channel axis" in v for v in check_target(bad_axis, "tensorrt").violations)
    zp = next(t for t in bad_axis.graph.initializer if t.name.endswith("_zero_point") and t.data_type == TensorProto.INT8)
    zp.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(zp) + np.int8(3), zp.name))
    assert any("zero point must be 0" in v for v in check_target(bad_axis, "tensorrt").violations)
    unpaired = onnx.ModelProto()
    unpaired.CopyFrom(model)
    q = next(n for n in unpaired.graph.node if n.op_type == "QuantizeLinear")
    dq = next(n for n in unpaired.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == q.output[0])
    dq.input[1] = dq.input[0]  # a different scale than its QuantizeLinear
    assert any("matching DequantizeLinear" in v for v in check_target(unpaired, "generic").violations)


def _sigmoid_mlp():
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Sigmoid", ["h"], ["s"], name="sig"),
             helper.make_node("MatMul", ["s", "w2"], ["y"], name="mm2")]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], [w1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m, {"x": rng.standard_normal((64, 8)).astype(np.float32)}


def test_qnn_16bit_sigmoid_output_gets_the_fixed_scale_and_the_check_sees_it():
    model, data = _sigmoid_mlp()
    res = edgeq.quantize(model, {"fmt": "w8a16", "target": "qnn"}, calib=data, progress=False)
    assert res.tensors["s"].scale == np.float32(1 / 65536) and int(res.tensors["s"].zero_point) == 0
    assert res.report.target_check["ok"], res.report.target_check
    broken = onnx.ModelProto()
    broken.CopyFrom(res.model)
    scale = next(t for t in broken.graph.initializer if t.name == "s_scale")
    scale.CopyFrom(numpy_helper.from_array(np.array(0.01, np.float32), "s_scale"))
    assert any("1/65536" in v or "1.52588e-05" in v for v in check_target(broken, "qnn").violations)
