"""Network-level cost of the shipped digits models on digital and analog targets, and precision plans."""

import json

import pytest
from edgeq.examples import example_path
from edgeq.hw_models import extract_layers, mac_cost, network_cost
from onnx import TensorProto, helper

from edgeq.errors import UserError

CNN = str(example_path("digits_cnn.onnx"))


def test_cnn_macs_counted_from_shapes():
    layers = {layer.name: layer for layer in extract_layers(CNN)}
    conv2 = layers["conv2"]
    # 3x3 conv 16 -> 32 channels on an 8x8 map: 64 positions x 32 outputs x 144 inputs
    assert (conv2.k_rows, conv2.n_cols, conv2.vectors) == (144, 32, 64)
    assert conv2.macs == 64 * 32 * 144
    assert layers["fc1"].macs == 512 * 64 and layers["fc1"].weight_elems == 512 * 64 + 64


def test_digital_compute_energy_is_macs_times_mac_cost():
    cost = network_cost(CNN, "int8", target="digital", tech="7nm")
    mac = mac_cost("int8", "int8", "int32", tech="7nm")
    assert cost.breakdown_pj()["compute"] == pytest.approx(cost.macs * mac.energy_pj)
    assert cost.tops_per_w == pytest.approx(2 * cost.macs / cost.energy_pj)
    d = cost.to_dict()
    assert d["totals"]["energy_uj"] == pytest.approx(cost.energy_pj * 1e-6)
    assert len(d["layers"]) == len(extract_layers(CNN))


def test_fp8_costs_more_than_int8_and_int4_less():
    e = {f: network_cost(CNN, f, tech="7nm").energy_pj for f in ("int4", "int8", "fp8_e4m3")}
    assert e["int4"] < e["int8"] < e["fp8_e4m3"]


def test_mixed_plan_dict_and_json_report(tmp_path):
    plan = {"default": "int8", "layers": {"fc1": {"weight": "int4", "act": "int8"}}}
    mixed = network_cost(CNN, plan, tech="7nm")
    all8 = network_cost(CNN, "int8", tech="7nm")
    fc1 = {c.name: c for c in mixed.layers}["fc1"]
    assert fc1.precision == "int4xint8->int32" and mixed.energy_pj < all8.energy_pj
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"fmt": "int8", "layers": [{"name": "fc1", "weight_fmt": "int4", "act_fmt": "int8"}]}))
    assert network_cost(CNN, str(report), tech="7nm").energy_pj == pytest.approx(mixed.energy_pj)


def test_plan_with_unknown_layer_is_a_user_error():
    with pytest.raises(UserError, match="not in the model"):
        network_cost(CNN, {"default": "int8", "layers": {"nope": "int4"}})


def test_analog_target_counts_tiles_and_adc_dominates_sar8():
    cost = network_cost(CNN, "int8", target="analog", hw="sar8", tech="16nm")
    by = {c.name: c for c in cost.layers}
    assert by["fc1"].tiles == 4  # 512 rows / 128 = 4 row tiles, 64 cols fit one column tile
    parts = cost.breakdown_pj()
    assert parts["adc"] > parts["crossbar"]
    assert cost.area_um2 == pytest.approx(sum(c.area_um2 for c in cost.layers))


def test_activation_matmul_falls_back_to_digital_on_analog():
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4, 8])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 8, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")], "g", [a, b], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    cost = network_cost(model, "int8", target="analog")
    assert cost.macs == 4 * 8 * 3 and cost.layers[0].precision == "digital"


def test_bad_target_and_missing_model():
    with pytest.raises(UserError):
        network_cost(CNN, "int8", target="quantum")
    with pytest.raises(UserError):
        network_cost("/nonexistent/model.onnx", "int8")
    with pytest.raises(UserError):
        network_cost(CNN, "int8", hw="no-such-preset")


def test_analog_crossbar_energy_from_simulator_data():
    import numpy as np

    rng = np.random.default_rng(1)
    g = rng.uniform(1e-6, 1e-4, size=(512, 128))  # fc1: 512 inputs, 64 outputs as differential pairs
    v = rng.uniform(0, 0.2, size=(3, 512))
    base = network_cost(CNN, "int8", target="analog", hw="sar8", tech="16nm")
    data = network_cost(CNN, "int8", target="analog", hw="sar8", tech="16nm", crossbar_data={"fc1": (g, v)})
    fc1 = {c.name: c for c in data.layers}["fc1"]
    expected = float(np.sum((v**2) @ g.sum(axis=1))) * 1e-9 * 1e12 / 3  # SAR: one 1 ns read, one vector
    assert fc1.energy_pj["crossbar"] == pytest.approx(expected)
    assert {c.name: c for c in base.layers}["conv2"].total_pj == pytest.approx(
        {c.name: c for c in data.layers}["conv2"].total_pj)
    with pytest.raises(UserError):
        network_cost(CNN, "int8", target="analog", crossbar_data={"fc1": (g[:10], v)})


def test_memory_bits_include_scales_and_mx_block_scales():
    from edgeq.hw_models import tensor_bits

    assert tensor_bits(1000, "int8", n_scales=10).total_bits == 8000 + 320
    assert tensor_bits(64, "mxfp4").total_bits == 64 * 4 + 2 * 8  # two blocks of 32, one E8M0 scale each
    assert tensor_bits(10, "fp32").total_bits == 320


def test_summary_line_for_other_reports():
    from edgeq.hw_models.report import summary_line

    line = summary_line(CNN, "int8", tech="7nm")
    assert "uJ/inference" in line and "1x INT8" in line


def _lstm_model(seq=10, batch=1, inputs=40, hidden=32):
    import numpy as np
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((1, 4 * hidden, inputs)).astype("float32"), "W")
    r = numpy_helper.from_array(rng.standard_normal((1, 4 * hidden, hidden)).astype("float32"), "R")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [seq, batch, inputs])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm", hidden_size=hidden)
    graph = helper.make_graph([node], "g", [x], [y], initializer=[w, r])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_lstm_macs_and_nonlinear_ramp_absorbs_gate_activations():
    model = _lstm_model()
    (layer,) = extract_layers(model)
    assert layer.macs == 10 * 4 * 32 * (40 + 32)
    assert (layer.k_rows, layer.n_cols, layer.vectors) == (72, 128, 10)
    assert layer.nl_on_mvm == 10 * 32 * 4 and layer.nl_other == 10 * 32
    nl = network_cost(model, "int8", target="analog", hw="nl-ramp5", tech="16nm").layers[0]
    linear = network_cost(model, "int8", target="analog", hw="ramp5", tech="16nm").layers[0]
    assert nl.energy_pj["activation LUT"] == pytest.approx(linear.energy_pj["activation LUT"] / 5)
    digital = network_cost(model, "int8", target="digital", tech="16nm").layers[0]
    assert digital.energy_pj["activation LUT"] == pytest.approx(linear.energy_pj["activation LUT"])


def _qdq_gemm(dtype, zero):
    import numpy as np
    from onnx import numpy_helper

    w = numpy_helper.from_array(np.ones((8, 4), dtype="float32"), "W")
    w_q = helper.make_tensor("Wq", dtype, [8, 4], [zero] * 32)
    scale = numpy_helper.from_array(np.array(0.1, dtype="float32"), "s")
    zp = helper.make_tensor("zp", dtype, [], [zero])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="q_x"),
        helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["Wq", "s", "zp"], ["Wd"], name="dq_w"),
        helper.make_node("MatMul", ["xd", "Wd"], ["y"], name="mm"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[w, w_q, scale, zp])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


@pytest.mark.parametrize("dtype,fmt", [(TensorProto.INT8, "int8"), (TensorProto.FLOAT8E4M3FN, "fp8_e4m3")])
def test_qdq_graph_gives_its_own_plan_and_static_weights(dtype, fmt):
    model = _qdq_gemm(dtype, 0)
    (mm,) = [layer for layer in extract_layers(model) if layer.macs]
    assert mm.static_weights and (mm.weight_fmt, mm.act_fmt) == (fmt, fmt) and mm.weight_elems == 32
    auto = network_cost(model, "auto")
    assert {c.name: c for c in auto.layers}["mm"].precision.startswith(fmt)
    qdq_nodes = [c for c in auto.layers if c.op in ("QuantizeLinear", "DequantizeLinear")]
    assert qdq_nodes and all(c.total_pj == 0 for c in qdq_nodes)
    analog = network_cost(model, "auto", target="analog")
    assert {c.name: c for c in analog.layers}["mm"].tiles == 1  # DQ(W) is a constant: it maps to a crossbar
