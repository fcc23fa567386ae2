"""Network-level cost of the shipped digits models on digital and analog targets, and precision plans."""

import json

import onnx
import pytest
from onnx import TensorProto, helper

from edgeq.errors import UserError
from edgeq.examples import example_path
from edgeq.hw_models import extract_layers, mac_cost, network_cost

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
