"""Regression tests for the failure classes real models showed (issue 15), each as a small graph built in code:
a recurrent state input with a fixed shape and no sample axis, a time-major output, Clip with bounds computed at
run time, types only a run resolves, opset 11, a stem that amplifies its input's quantization noise, and the feed
sources (per-run .npz folder, .npy, file.py:function, CalibrationDataReader)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgeq
from edgeq.errors import UserError

RNG = np.random.default_rng(0)


def _init(name, shape, scale=0.5):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _save(model, tmp_path, name="m.onnx"):
    onnx.checker.check_model(model)
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _state_model():
    """y = MatMul(x, W) + state-mix; state [2, 1, 4] in, new state out (like a VAD LSTM's h/c)."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
        helper.make_node("ReduceMean", ["state"], ["s_mean"], name="smean", axes=[0], keepdims=0),
        helper.make_node("MatMul", ["s_mean", "ws"], ["s_proj"], name="mm_state"),
        helper.make_node("Add", ["h", "s_proj"], ["y"], name="add"),
        helper.make_node("Tanh", ["state"], ["state_out"], name="tanh"),
    ]
    graph = helper.make_graph(
        nodes, "state",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("state_out", TensorProto.FLOAT, [2, 1, 4])],
        [_init("w", (8, 4)), _init("ws", (4, 4))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_fixed_shape_state_input_takes_an_extra_leading_axis(tmp_path):
    path = _save(_state_model(), tmp_path)
    calib = {"x": RNG.standard_normal((6, 1, 8)).astype(np.float32),  # 6 runs of a [1, 8] input
             "state": RNG.standard_normal((6, 2, 1, 4)).astype(np.float32)}  # 6 runs of a [2, 1, 4] state
    rep = edgeq.quantize(path, "int8", calib=calib, progress=False).report
    assert rep.n_calib == 6 and rep.fidelity_ok
    assert set(rep.outputs) == {"y", "state_out"} and rep.sqnr_db > 25.0


def _time_major_model():
    """Conv features -> Transpose to time-major [T, N, C] logits (a CTC recognizer's layout)."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),  # x [N, T, 8] -> [N, T, 5]
        helper.make_node("Transpose", ["h"], ["logits"], name="to_time_major", perm=[1, 0, 2]),
    ]
    graph = helper.make_graph(
        nodes, "ctc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 7, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [7, "N", 5])], [_init("w", (8, 5))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_time_major_output_is_measured_without_concatenating_batches(tmp_path):
    path = _save(_time_major_model(), tmp_path)
    data = {"x": RNG.standard_normal((70, 7, 8)).astype(np.float32)}  # 3 feeds of 32, 32, 6 samples
    rep = edgeq.quantize(path, "int8", calib=data, progress=False).report
    assert rep.n_eval == 70 and rep.sqnr_db > 30.0 and rep.agreement > 0.95


def test_labels_on_a_time_major_output_are_ignored_with_a_note(tmp_path):
    path = _save(_time_major_model(), tmp_path)
    data = {"x": RNG.standard_normal((40, 7, 8)).astype(np.float32), "labels": np.zeros(40, np.int64)}
    rep = edgeq.quantize(path, "int8", calib={"x": data["x"]}, eval=data, progress=False).report
    assert rep.accuracy_fp32 is None
    assert any("labels ignored" in n for n in rep.notes)


def _clip_model(opset: int):
    """MatMul -> Clip(h, -0.5 * max(h), max(h)) -> MatMul: bounds computed at run time (an audio front-end)."""
    lo = numpy_helper.from_array(np.array(-0.5, np.float32), "half")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
        helper.make_node("ReduceMax", ["h"], ["hmax"], name="rmax", keepdims=0),
        helper.make_node("Mul", ["hmax", "half"], ["lo"], name="lo"),
        helper.make_node("Clip", ["h", "lo", "hmax"], ["c"], name="clip"),
        helper.make_node("MatMul", ["c", "w2"], ["y"], name="mm2"),
    ]
    graph = helper.make_graph(
        nodes, "clip", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], [_init("w1", (8, 8)), _init("w2", (8, 4)), lo],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("fmt", ["int8", "fp8_e4m3"])
def test_clip_with_computed_bounds_quantizes_and_runs_as_simulated(tmp_path, fmt):
    path = _save(_clip_model(13), tmp_path)
    rep = edgeq.quantize(path, fmt, calib={"x": RNG.standard_normal((64, 8)).astype(np.float32)},
                         progress=False).report
    assert rep.fidelity_ok and rep.sqnr_db > 20.0


def test_opset_11_model_is_upgraded_and_quantized(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c", "zero", "six"], ["r"], name="relu6"),  # opset 11: bounds as inputs
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1),
    ]
    inits = [_init("w", (4, 3, 3, 3)), _init("b", (4,)), _init("wf", (5, 4)),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array(6.0, np.float32), "six")]
    graph = helper.make_graph(nodes, "op11", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    path = _save(model, tmp_path)
    rep = edgeq.quantize(path, "int8", calib={"x": RNG.random((32, 3, 6, 6)).astype(np.float32)},
                         progress=False).report
    assert rep.fidelity_ok and rep.sqnr_db > 25.0 and "conv" in {t["node"] for t in rep.tensors.values()}


def test_types_unknown_to_onnx_inference_are_resolved_from_a_run(tmp_path):
    """A contrib op (com.microsoft Gelu) stops ONNX type inference; the MatMul after it must still be quantized."""
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
        helper.make_node("Gelu", ["h"], ["g"], name="gelu", domain="com.microsoft"),
        helper.make_node("MatMul", ["g", "w2"], ["y"], name="mm2"),
    ]
    graph = helper.make_graph(nodes, "contrib", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [_init("w1", (8, 8)), _init("w2", (8, 4))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    rep = edgeq.quantize(path, "int8", calib={"x": RNG.standard_normal((32, 8)).astype(np.float32)},
                         progress=False).report
    assert "g" in rep.tensors and rep.tensors["g"]["role"] == "activation"


def _offset_stem_model():
    """A first conv whose 1-channel input rides on a large offset and whose kernel sums to zero (a derivative):
    its output cancels the offset, so the input's quantization noise dominates it."""
    k = np.array([[[[1.0, -2.0, 1.0]]]], np.float32).repeat(4, axis=0)
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"], name="stem"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "w2"], ["y"], name="conv2"),
    ]
    graph = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 1, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 1, 28])],
                              [numpy_helper.from_array(k, "k"), _init("w2", (4, 4, 1, 3))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("fmt", ["int8", "fp8_e4m3"])
def test_stem_that_amplifies_its_input_noise_stays_float(tmp_path, fmt):
    path = _save(_offset_stem_model(), tmp_path)
    t = np.linspace(0, 6, 32, dtype=np.float32)
    x = (50.0 + np.sin(t[None, :] * RNG.uniform(0.5, 3, (64, 1)))).astype(np.float32).reshape(64, 1, 1, 32)
    guarded = edgeq.quantize(path, fmt, calib={"x": x}, progress=False).report
    plain = edgeq.quantize(path, edgeq.ptq.QuantConfig.from_options(fmt, amplifier_guard=False), calib={"x": x},
                           progress=False).report
    assert any("amplifier guard" in n and "stem" in n for n in guarded.notes)
    assert "x" not in guarded.tensors and "k" not in guarded.tensors
    assert guarded.sqnr_db > plain.sqnr_db + 10.0


def test_feed_sources_folder_npy_loader_and_reader_agree(tmp_path):
    path = _save(_clip_model(13), tmp_path)
    x = RNG.standard_normal((24, 8)).astype(np.float32)
    folder = tmp_path / "feeds"
    folder.mkdir()
    for k in range(3):
        np.savez(folder / f"feed_{k}.npz", x=x[8 * k: 8 * k + 8])
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "loader.py").write_text(
        "import numpy as np\n"
        f"X = np.load({str(tmp_path / 'x.npy')!r})\n"
        "def feeds():\n    return [{'x': X[k:k + 8]} for k in range(0, 24, 8)]\n")

    class Reader:
        def __init__(self):
            self.items = iter([{"x": x[k:k + 8]} for k in range(0, 24, 8)])

        def get_next(self):
            return next(self.items, None)

    results = [edgeq.quantize(path, "int8", calib=src, progress=False) for src in
               (folder, tmp_path / "x.npy", f"{tmp_path / 'loader.py'}:feeds", Reader(), {"x": x})]
    first = results[0].model.SerializeToString()
    assert all(r.model.SerializeToString() == first for r in results)


def test_bad_feed_sources_are_one_line_user_errors(tmp_path):
    path = _save(_clip_model(13), tmp_path)
    np.save(tmp_path / "bad.npy", np.full((4, 8), np.nan, np.float32))
    with pytest.raises(UserError, match="NaN"):
        edgeq.quantize(path, "int8", calib=tmp_path / "bad.npy", progress=False)
    with pytest.raises(UserError, match="beyond any"):
        edgeq.quantize(path, "int8", calib={"x": np.full((4, 8), 3e38, np.float32)}, progress=False)
    (tmp_path / "empty.py").write_text("def feeds():\n    return []\n")
    with pytest.raises(UserError, match="no feeds"):
        edgeq.quantize(path, "int8", calib=f"{tmp_path / 'empty.py'}:feeds", progress=False)


def test_cli_internal_error_is_one_line_exit_3(tmp_path, monkeypatch):
    """Anything unexpected inside edgeq: one line naming where, exit 3, no traceback."""
    path = _save(_clip_model(13), tmp_path)
    np.savez(tmp_path / "c.npz", x=RNG.standard_normal((8, 8)).astype(np.float32))
    code = ("import sys, edgeq.ptq.measure as m\n"
            "def boom(*a, **k): raise RuntimeError('injected')\n"
            "m.measure = boom\n"
            "import edgeq.ptq.pipeline as p; p.measure = boom\n"
            "from edgeq.cli import main\n"
            f"sys.exit(main(['quantize', {str(path)!r}, '--calib', {str(tmp_path / 'c.npz')!r}, '-o', "
            f"{str(tmp_path / 'o.onnx')!r}, '--quiet']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "internal error in edgeq.ptq.pipeline" in proc.stderr and "injected" in proc.stderr
    assert not (tmp_path / "o.onnx").exists()


def test_compute_ops_only_inside_control_flow_get_a_clear_refusal(tmp_path):
    then_g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["t"], name="mm")], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, ["N", 4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"], name="neg")], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["N", 8])])
    nodes = [helper.make_node("Greater", ["flag", "zero"], ["cond"], name="gt"),
             helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)]
    graph = helper.make_graph(
        nodes, "ctl", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
                       helper.make_tensor_value_info("flag", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "D"])],
        [_init("w", (8, 4)), numpy_helper.from_array(np.array(0.0, np.float32), "zero")])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    data = {"x": RNG.standard_normal((4, 8)).astype(np.float32), "flag": np.ones((4,), np.float32)}
    with pytest.raises(UserError, match=r"inside control flow \(If x1 holding MatMul x1\)"):
        edgeq.quantize(path, "int8", calib=data, progress=False)


def test_an_input_declared_with_batch_minus_one_is_dynamic(tmp_path):
    """Old exporters write dim_value -1 for "any size" (a PaddlePaddle MobileNet classifier did)."""
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "neg",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 4])], [_init("w", (8, 4))])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    rep = edgeq.quantize(path, "int8", calib={"x": RNG.standard_normal((40, 8)).astype(np.float32)},
                         progress=False).report
    assert rep.n_calib == 40 and rep.sqnr_db > 30.0
