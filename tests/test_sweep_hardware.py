"""The hardware evaluators against direct calls of edgeq.quantize, edgeq.simulators.simulate and network_cost."""

from __future__ import annotations

import math

import pytest

from edgeq.sweep import load_spec
from edgeq.sweep.evaluators import EvalTask, build_evaluator
from edgeq.sweep.study import sampler_kind

from sweep_helpers import EXAMPLES

CNN = str(EXAMPLES / "digits_cnn.onnx")


def _task(**options):
    return EvalTask("hardware", models=(CNN,), data=str(EXAMPLES / "digits_eval.npz"),
                    calib=str(EXAMPLES / "digits_calib.npz"), options={"tech": "16nm", **options})


def test_shipped_example_spec_is_valid():
    spec = load_spec(EXAMPLES / "sweep_digits.yaml")
    assert spec.evaluator == "hardware" and spec.budget.trials == 200 and sampler_kind(spec) == "tpe"
    assert spec.param("adc_bits").when == (("target", ("analog",)),)
    assert [o.metric for o in spec.objectives] == ["accuracy", "energy_pj", "area_mm2"]


@pytest.mark.slow
def test_digital_trial_equals_direct_quantize_and_cost():
    from edgeq import quantize
    from edgeq.hw_models import network_cost

    metrics = build_evaluator(_task()).evaluate(
        {"target": "digital", "weights": "int4", "acts": "int8", "layer.conv1": "int8", "layer.fc2": "default"})
    report = quantize(CNN, weights="int4", acts="int8", overrides={"conv1": "int8"}, calib=str(EXAMPLES /
                      "digits_calib.npz"), eval=str(EXAMPLES / "digits_eval.npz"), progress=False).report
    assert metrics["accuracy"] == report.accuracy_quant and metrics["sqnr_db"] == pytest.approx(report.sqnr_db)
    cost = network_cost(CNN, {"default": {"weight": "int4", "act": "int8"},
                              "layers": {"conv1": {"weight": "int8", "act": "int8"}}}, target="digital", tech="16nm",
                        hw="edge-npu")
    assert metrics["energy_pj"] == cost.energy_pj and metrics["area_mm2"] == cost.area_um2 * 1e-6
    int8 = build_evaluator(_task()).evaluate({"target": "digital", "weights": "int8", "acts": "int8"})
    assert int8["energy_pj"] > metrics["energy_pj"]  # 4-bit weights cost less than 8-bit ones


@pytest.mark.slow
def test_calibration_method_is_a_sweepable_parameter():
    from edgeq import quantize

    evaluator = build_evaluator(_task())
    sqnr = {}
    for method in ("minmax", "percentile:99.9"):
        trial = {"target": "digital", "weights": "int8", "acts": "int8", "calib_method": method}
        sqnr[method] = evaluator.evaluate(trial)["sqnr_db"]
        report = quantize(CNN, weights="int8", acts="int8", calib_method=method, progress=False,
                          calib=str(EXAMPLES / "digits_calib.npz"), eval=str(EXAMPLES / "digits_eval.npz")).report
        assert sqnr[method] == pytest.approx(report.sqnr_db)
    assert sqnr["minmax"] != sqnr["percentile:99.9"]


@pytest.mark.slow
def test_analog_adc_bits_trade_accuracy_for_energy():
    evaluator = build_evaluator(_task(device="rram", tile=64))
    low = evaluator.evaluate({"target": "analog", "adc_bits": 3})
    high = evaluator.evaluate({"target": "analog", "adc_bits": 8})
    assert all(math.isfinite(v) for v in (*low.values(), *high.values()))
    assert high["accuracy"] > low["accuracy"] + 0.05 and high["sqnr_db"] > low["sqnr_db"]
    assert high["energy_pj"] > low["energy_pj"] and high["area_mm2"] > low["area_mm2"]
    assert high["accuracy_float"] == low["accuracy_float"] == pytest.approx(0.99)
