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
