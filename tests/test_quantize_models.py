"""Quantize models built in code (residual Add/Concat, depthwise conv, attention, LSTM) and check in onnxruntime."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from quantize_helpers import attention_model, depthwise_model, inputs_for, lstm_model, residual_model

import edgeq
from edgeq.errors import UserError
from edgeq.metrics import sqnr_db

BUILDERS = {"residual": residual_model, "depthwise": depthwise_model, "attention": attention_model, "lstm": lstm_model}


def _run(model: onnx.ModelProto, feeds) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.mark.parametrize("fmt", ["int8", "fp8_e4m3"])
@pytest.mark.parametrize("name", list(BUILDERS))
def test_built_models_quantize_and_match_reference_in_ort(name, fmt):
    rng = np.random.default_rng(1)
    model = BUILDERS[name](rng)
    calib, evals = inputs_for(model, 64, rng), inputs_for(model, 48, rng)
    result = edgeq.quantize(model, fmt, calib=calib, eval=evals, progress=False)
    onnx.checker.check_model(result.model)
    rep = result.report
    assert rep.fidelity_ok, rep.fidelity
    assert rep.fidelity["ort_default"]["agreement"] >= 0.99
    assert rep.sqnr_db >= (25.0 if fmt == "int8" else 18.0), rep.sqnr_db
    # dynamic batch: the quantized model runs on a batch size never seen in calibration
    odd = inputs_for(model, 3, rng)
    out = _run(result.model, odd)
    assert out.shape[0] == 3
    assert sqnr_db(_run(model, odd), out) >= 15.0


def test_residual_concat_inputs_share_one_scale_and_add_inputs_are_quantized():
    rng = np.random.default_rng(2)
    model = residual_model(rng)
    result = edgeq.quantize(model, "int8", calib=inputs_for(model, 32, rng), progress=False)
    t = result.tensors
    assert float(t["r1"].scale) == float(t["c2"].scale) and int(t["r1"].zero_point) == int(t["c2"].zero_point)
    assert "c1" in t and "r0" in t  # both Add inputs
    assert {"w0", "w1", "w2", "w3", "wf"} <= {k for k, v in t.items() if v.role == "weight"}


def test_depthwise_conv_gets_per_channel_scales_and_batchnorm_is_folded():
    rng = np.random.default_rng(3)
    model = depthwise_model(rng)
    result = edgeq.quantize(model, "int8", calib=inputs_for(model, 32, rng), progress=False)
    assert not [n for n in result.model.graph.node if n.op_type == "BatchNormalization"]
    dw = [e for e in result.tensors.values() if e.role == "weight" and e.tensor.startswith("dw")][0]
    assert dw.axis == 0 and np.asarray(dw.scale).shape == (6,)


def test_attention_quantizes_both_activation_operands_of_batched_matmul():
    rng = np.random.default_rng(4)
    model = attention_model(rng)
    result = edgeq.quantize(model, "int8", calib=inputs_for(model, 32, rng), progress=False)
    assert {"q", "kt", "attn", "v", "ln", "ctx"} <= set(result.tensors)
    assert result.report.float_ops.get("Softmax") == 1 and result.report.float_ops.get("LayerNormalization") == 1


def test_lstm_stays_float_and_the_report_says_so():
    rng = np.random.default_rng(5)
    model = lstm_model(rng)
    result = edgeq.quantize(model, "int8", calib=inputs_for(model, 32, rng), progress=False)
    assert result.report.float_ops.get("LSTM") == 1
    assert "w_in" in result.tensors and "wf" in result.tensors
    assert not {"W", "R", "B"} & set(result.tensors)
    assert any("LSTM" in note for note in result.report.notes)


def test_external_data_model_is_read_and_the_output_is_self_contained(tmp_path):
    rng = np.random.default_rng(6)
    model = residual_model(rng)
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").exists()
    result = edgeq.quantize(path, "int8", calib=inputs_for(model, 16, rng), progress=False)
    out = tmp_path / "q.onnx"
    result.save(out)
    loaded = onnx.load(str(out))
    onnx.checker.check_model(loaded)
    assert result.report.fidelity_ok


def test_old_opset_is_upgraded_and_fixed_batch_models_are_batched_by_their_size(tmp_path):
    rng = np.random.default_rng(7)
    model = depthwise_model(rng)
    model.opset_import[0].version = 11  # every op in it has the same signature at 11
    for d in (model.graph.input[0], model.graph.output[0]):
        d.type.tensor_type.shape.dim[0].dim_value = 4  # fixed batch of 4
    data = inputs_for(model, 12, rng)
    folder = tmp_path / "calib"
    folder.mkdir()
    np.save(folder / "x.npy", data["x"])
    result = edgeq.quantize(model, "int8", calib=folder, progress=False)
    assert [o.version for o in result.model.opset_import if o.domain == ""] == [13]
    assert result.report.n_eval == 12 and result.report.fidelity_ok
    with pytest.raises(UserError, match="fixed batch size of 4"):
        edgeq.quantize(model, "int8", calib=inputs_for(model, 10, rng), progress=False)
