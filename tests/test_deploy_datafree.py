"""Issue 16: the bare one-liner (dynamic int8), weight-only MatMulNBits (RTN and clip search), their reports."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

import edgeq
import edgeq.graph.load
from edgeq.formats import get_format
from edgeq.ptq.dynamic import dynamic_fake_quant
from edgeq.ptq.weight_only import matmul_nbits, nbits_scales, nbits_values

EVAL = "examples/digits_eval.npz"


def test_bare_int8_goes_dynamic_and_ort_runs_what_edgeq_simulates():
    res = edgeq.quantize("examples/digits_mlp.onnx", "int8", progress=False)
    ops = [n.op_type for n in res.model.graph.node]
    assert ops.count("DynamicQuantizeLinear") == 3 and ops.count("MatMulInteger") == 3
    rep = res.report
    assert rep.fidelity_ok and rep.fidelity["ort_default"]["sqnr_db"] > 60.0, rep.fidelity
    assert rep.runtime_ops.get("DynamicQuantizeMatMul") == 3  # ORT's fused dynamic kernel
    assert rep.n_calib == 0 and rep.acts.startswith("uint8 (dynamic")
    assert any("random normal inputs" in n for n in rep.notes)


def test_bare_int8_with_eval_reports_what_calibration_would_gain_and_keeps_conv_float():
    rep = edgeq.quantize("examples/digits_cnn.onnx", "int8", eval=EVAL, progress=False).report
    assert rep.sqnr_db > 40.0 and rep.accuracy_drop_pp <= 0.5
    assert any(n.startswith("what calibration data would gain") for n in rep.notes)
    assert any("3 Conv stay in float" in n for n in rep.notes)
    assert "ConvInteger" not in rep.runtime_ops


def test_dynamic_fake_quant_matches_onnx_dynamic_quantize_linear():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 50)) * 3 + 1).astype(np.float32)
    g = helper.make_graph([helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
                           helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", 1, list(x.shape))],
                          [helper.make_tensor_value_info("y", 1, list(x.shape))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    y = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(dynamic_fake_quant(x), y, atol=1e-6)


@pytest.mark.parametrize("bits,k", [(4, 96), (8, 64), (4, 100)])
def test_matmul_nbits_packing_is_what_onnxruntime_computes(bits, k):
    rng = np.random.default_rng(bits + k)
    w = rng.standard_normal((k, 24)).astype(np.float32)
    node, inits, entry, stored = matmul_nbits("w", "x", "y", w, get_format(f"int{bits}"), 32)
    values = nbits_values(w, entry.scale, get_format(f"int{bits}"), 32)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [3, k])],
                          [helper.make_tensor_value_info("y", 1, [3, 24])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    x = rng.standard_normal((3, k)).astype(np.float32)
    y = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, x @ values, atol=1e-4)
    assert stored == 24 * -(-k // 32) * (32 * bits // 8 + 4)  # codes of padded blocks plus one float scale each
    if k % 32 == 0:
        np.testing.assert_array_equal(entry.apply(w), values)


def test_clip_search_never_loses_to_round_to_nearest_on_its_objective():
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((128, 16)) * np.exp(rng.standard_normal((128, 1)))).astype(np.float32)
    h = np.exp(2 * rng.standard_normal(128)).astype(np.float32)
    fmt = get_format("int4")
    err = lambda s: float(np.sum(h[:, None] * (w - np.clip(np.rint(w / np.repeat(s, 32, 0)), -8, 7)  # noqa: E731
                                               * np.repeat(s, 32, 0)) ** 2))
    rtn, clip = nbits_scales(w, fmt, 32, None), nbits_scales(w, fmt, 32, h)
    assert err(clip) < 0.9 * err(rtn)


def test_weight_only_int4_with_calibration_beats_rtn_and_runs_as_simulated():
    rtn = edgeq.quantize("examples/digits_mlp.onnx", {"weights": "int4", "acts": "float"}, eval=EVAL,
                         progress=False)
    clip = edgeq.quantize("examples/digits_mlp.onnx", {"weights": "int4", "acts": "float"}, eval=EVAL,
                          calib="examples/digits_calib.npz", progress=False)
    for res in (rtn, clip):
        assert [n.op_type for n in res.model.graph.node].count("MatMulNBits") == 3
        assert res.report.fidelity["ort_default"]["sqnr_db"] == float("inf")
        assert res.report.size_bytes_quant < res.report.size_bytes_fp32 / 5
    assert clip.report.sqnr_db > rtn.report.sqnr_db + 0.3  # measured 27.2 vs 26.7 dB


def test_weight_only_fp8_writes_dequantize_linear_weights():
    res = edgeq.quantize("examples/digits_cnn.onnx", "fp8_e4m3", eval=EVAL, progress=False)
    assert res.report.acts == "float" and res.report.fidelity_ok
    assert {t["exported_as"] for t in res.report.tensors.values()} == {"codes+DequantizeLinear"}
    assert not [n for n in res.model.graph.node if n.op_type == "QuantizeLinear"]
    onnx.checker.check_model(res.model)


def test_save_follows_the_umask_and_writes_external_data_when_asked(tmp_path):
    import os

    from edgeq.graph.save import save_model

    model = onnx.load("examples/digits_mlp.onnx")
    old = os.umask(0o027)
    try:
        single = save_model(model, tmp_path / "m.onnx")
        split = save_model(model, tmp_path / "big.onnx", external=True)
    finally:
        os.umask(old)
    assert single == [tmp_path / "m.onnx"] and split == [tmp_path / "big.onnx", tmp_path / "big.onnx.data"]
    for p in (*single, *split):
        assert (p.stat().st_mode & 0o777) == 0o640, p
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data", "m.onnx"]  # no temp left
    assert (tmp_path / "big.onnx").stat().st_size < 5000 < (tmp_path / "big.onnx.data").stat().st_size
    back = edgeq.graph.load.load_model(tmp_path / "big.onnx")
    x = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(  # noqa
        None, {m.graph.input[0].name: x.reshape([2] + [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim[1:]])})[0]
    np.testing.assert_array_equal(run(back), run(onnx.load("examples/digits_mlp.onnx")))


def test_weight_only_reads_external_data_lazily_and_writes_a_self_contained_model(tmp_path, monkeypatch):
    import edgeq.graph.save as save

    src = tmp_path / "src"
    src.mkdir()
    onnx.save_model(onnx.load("examples/digits_mlp.onnx"), str(src / "mlp.onnx"), save_as_external_data=True,
                    location="mlp.onnx.data", size_threshold=0)
    res = edgeq.quantize(src / "mlp.onnx", {"weights": "int4", "acts": "float"}, eval=EVAL, progress=False)
    assert res.report.fidelity_ok
    monkeypatch.setattr(save, "EXTERNAL_LIMIT", 1000)  # as if the model were over 2 GB
    res.save(tmp_path / "out.onnx")
    assert (tmp_path / "out.onnx.data").exists()
    (src / "mlp.onnx.data").unlink()  # the output must not read the input's data file
    sess = ort.InferenceSession(str(tmp_path / "out.onnx"), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    assert sess.run(None, {name: np.load(EVAL)[name][:4]})[0].shape[0] == 4


def test_int4_embedding_table_becomes_gather_block_quantized():
    rng = np.random.default_rng(0)
    table = onnx.numpy_helper.from_array(rng.standard_normal((50, 64)).astype(np.float32), "table")
    w = onnx.numpy_helper.from_array((rng.standard_normal((64, 8)) / 8).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["e"], name="embed"),
                           helper.make_node("MatMul", ["e", "w"], ["y"], name="proj")], "emb",
                          [helper.make_tensor_value_info("ids", onnx.TensorProto.INT64, ["N", 5])],
                          [helper.make_tensor_value_info("y", 1, ["N", 5, 8])], [table, w])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    ids = {"ids": rng.integers(0, 50, (16, 5)).astype(np.int64)}
    res = edgeq.quantize(model, {"weights": "int4", "acts": "float"}, eval=ids, progress=False)
    assert sorted(n.op_type for n in res.model.graph.node) == ["GatherBlockQuantized", "MatMulNBits"]
    assert res.report.exported_as["table"] == "GatherBlockQuantized block 32"
    assert res.report.fidelity["ort_default"]["sqnr_db"] > 100.0, res.report.fidelity  # ORT computes edgeq's values
    assert res.report.size_bytes_quant < res.report.size_bytes_fp32 / 5
