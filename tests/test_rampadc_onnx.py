"""ONNX LSTM/GRU nodes on the analog path equal onnxruntime when ideal; unsupported attributes are clear errors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from edgeq.simulators.analog_rnn import AnalogRNNConfig
from edgeq.simulators.onnx_rnn import run_rnn_node
from onnx import TensorProto, helper

from edgeq.errors import UserError

ort = pytest.importorskip("onnxruntime")
from rampadc_helpers import one_torch_thread

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


def _model(op: str, steps: int, batch: int, n_in: int, hidden: int, n_dirs: int, attrs: dict, layout: int = 0):
    rng = np.random.default_rng(0)
    gates = 4 if op == "LSTM" else 3
    w = rng.normal(0, 0.5, (n_dirs, gates * hidden, n_in)).astype(np.float32)
    r = rng.normal(0, 0.5, (n_dirs, gates * hidden, hidden)).astype(np.float32)
    b = rng.normal(0, 0.3, (n_dirs, 2 * gates * hidden)).astype(np.float32)
    lens = rng.integers(1, steps + 1, batch).astype(np.int32)
    h0 = rng.normal(0, 0.5, (n_dirs, batch, hidden)).astype(np.float32)
    if layout == 1:
        h0 = h0.transpose(1, 0, 2).copy()
    inputs = ["X", "W", "R", "B", "seq", "h0"] + (["c0"] if op == "LSTM" else [])
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, inputs, outputs, hidden_size=hidden, layout=layout, **attrs)
    x_shape = [steps, batch, n_in] if layout == 0 else [batch, steps, n_in]
    inits = [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.ravel()) for n, a in (("W", w), ("R", r), ("B", b))]
    inits.append(helper.make_tensor("seq", TensorProto.INT32, lens.shape, lens))
    inits.append(helper.make_tensor("h0", TensorProto.FLOAT, h0.shape, h0.ravel()))
    arrays = [None, w, r, b, lens, h0]
    if op == "LSTM":
        c0 = rng.normal(0, 0.5, h0.shape).astype(np.float32)
        inits.append(helper.make_tensor("c0", TensorProto.FLOAT, c0.shape, c0.ravel()))
        arrays.append(c0)
    graph = helper.make_graph(
        [node], "rnn", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None] * (4 if o == "Y" else 3)) for o in outputs], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    x = rng.normal(0, 1, x_shape).astype(np.float32)
    arrays[0] = x
    return model, node, arrays, x


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
def test_ideal_onnx_rnn_matches_onnxruntime(op: str, direction: str, layout: int) -> None:
    n_dirs = 2 if direction == "bidirectional" else 1
    attrs = {"direction": direction}
    if op == "GRU":
        attrs["linear_before_reset"] = 1 if direction != "reverse" else 0
    model, node, arrays, x = _model(op, 6, 3, 5, 4, n_dirs, attrs, 0)
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"X": x})
    if layout == 1:  # onnxruntime has no batch-first RNNs: compare with the time-first run, transposed
        node = helper.make_node(op, list(node.input), list(node.output), hidden_size=4, layout=1, **attrs)
        arrays = [x.transpose(1, 0, 2), *arrays[1:5], *(a.transpose(1, 0, 2) for a in arrays[5:])]
        ref = [ref[0].transpose(2, 0, 1, 3), *(r.transpose(1, 0, 2) for r in ref[1:])]
    got = run_rnn_node(node, arrays, AnalogRNNConfig())
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


def test_ramp_adc_onnx_lstm_differs_but_stays_close() -> None:
    _, node, arrays, _ = _model("LSTM", 6, 3, 5, 4, 1, {}, 0)
    ideal = run_rnn_node(node, arrays)[0]
    ramp = run_rnn_node(node, arrays, AnalogRNNConfig.uniform("ramp", 5))[0]
    assert not np.array_equal(ideal, ramp)
    assert np.max(np.abs(ideal - ramp)) < 0.1


def test_unsupported_onnx_rnn_attributes_raise() -> None:
    _, node, arrays, _ = _model("LSTM", 3, 2, 3, 2, 1, {"activations": ["Relu", "Tanh", "Tanh"]}, 0)
    with pytest.raises(UserError, match="activations"):
        run_rnn_node(node, arrays)
    _, node, arrays, _ = _model("LSTM", 3, 2, 3, 2, 1, {"clip": 1.0}, 0)
    with pytest.raises(UserError, match="clip"):
        run_rnn_node(node, arrays)


def test_simulate_runs_lstm_nodes_on_analog_tiles() -> None:
    from edgeq.simulators.analog_activation import ActivationSpec
    from edgeq.simulators import simulate
    from edgeq.simulators.presets import get_preset
    from edgeq.simulators.ramp_adc import RampADCConfig

    model, _, _, x = _model("LSTM", 6, 3, 5, 4, 1, {}, 0)
    ideal = simulate(model, get_preset("ideal"), {"X": x})
    assert ideal.sqnr_db[0, 0] > 100 and any(n.op_type == "LSTM" for n in ideal.nodes)
    ramp = simulate(model, get_preset("ideal"), {"X": x}, rnn_activation=ActivationSpec("ramp", RampADCConfig(bits=4)))
    rram = simulate(model, get_preset("rram"), {"X": x}, repeats=2, seed=1)
    assert 10 < ramp.sqnr_db[0, 0] < 100 and 5 < rram.sqnr_db.mean() < 100


def test_simulate_cli_puts_lstm_gates_on_ramp_adcs(tmp_path) -> None:
    import json

    from edgeq.cli import main

    model, _, _, x = _model("LSTM", 6, 3, 5, 4, 1, {}, 0)
    onnx.save(model, tmp_path / "lstm.onnx")
    np.savez(tmp_path / "data.npz", X=x)
    sqnr = {}
    for gates in ("exact", "ramp:3", "ramp:8:ideal"):
        out = tmp_path / gates.replace(":", "_")
        args = [str(tmp_path / "lstm.onnx"), "--preset", "ideal", "--eval", str(tmp_path / "data.npz"), "--drift", "1s"]
        assert main(["simulate", *args, "--repeats", "1", "--rnn-activation", gates, "--out-dir", str(out)]) == 0
        sqnr[gates] = float(json.loads((out / "results.json").read_text())["sqnr_db"][0][0])
    # coarser ramp ADCs lose more: exact gates reproduce the float model, 8-bit ramps beat 3-bit ramps
    assert sqnr["exact"] > 100 and sqnr["ramp:3"] < sqnr["ramp:8:ideal"] < 100
    bad = ["simulate", str(tmp_path / "lstm.onnx"), "--preset", "ideal", "--eval", str(tmp_path / "data.npz")]
    assert main([*bad, "--rnn-activation", "ramp"]) == 2
    assert main([*bad, "--rnn-activation", "ramp:5:nope"]) == 2
