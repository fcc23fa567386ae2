"""Any ONNX model onto tiles: grouped/depthwise Conv, ConvTranspose, Conv1d, Gemm either transB, MatMul with a
constant on either side, attention's MatMul staying digital, Constant-node weights, and unknown shapes."""

import dataclasses

import numpy as np
import onnx
import pytest
from edgeq.simulators import get_preset, simulate
from edgeq.simulators.onnx_sim import OnnxCrossbarModel, fp32_outputs
from onnx import TensorProto, helper, numpy_helper

from edgeq.metrics import sqnr_db

RNG = np.random.default_rng(0)


def _model(nodes, inputs, output, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model


def _x(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _w(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CASES = {
    "depthwise": (lambda: _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], group=8, pads=[1, 1, 1, 1])],
                                 [_x("x", [None, 8, 9, 9])], "y", [("w", _w(8, 1, 3, 3)), ("b", _w(8))]), (2, 8, 9, 9)),
    "grouped_strided": (lambda: _model([helper.make_node("Conv", ["x", "w"], ["y"], group=4, strides=[2, 2],
                                                         auto_pad="SAME_UPPER")],
                                       [_x("x", [None, 8, 10, 11])], "y", [("w", _w(12, 2, 3, 3))]), (2, 8, 10, 11)),
    "conv1d": (lambda: _model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[2, 1], strides=[2], dilations=[2])],
                              [_x("x", [None, 3, 17])], "y", [("w", _w(5, 3, 4))]), (2, 3, 17)),
    "convtranspose": (lambda: _model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2],
                                                       pads=[1, 0, 1, 1], output_padding=[1, 0])],
                                     [_x("x", [None, 4, 5, 6])], "y", [("w", _w(4, 3, 3, 3)), ("b", _w(3))]),
                      (2, 4, 5, 6)),
    "convtranspose_grouped": (lambda: _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], group=2,
                                                               dilations=[2, 1])],
                                             [_x("x", [None, 4, 5, 5])], "y", [("w", _w(4, 3, 2, 3))]), (2, 4, 5, 5)),
    "convtranspose1d": (lambda: _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[3])],
                                       [_x("x", [None, 4, 7])], "y", [("w", _w(4, 2, 5))]), (2, 4, 7)),
    "gemm_transB0": (lambda: _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], alpha=0.5, beta=2.0)],
                                    [_x("x", [None, 6])], "y", [("w", _w(6, 4)), ("b", _w(4))]), (3, 6)),
    "gemm_transB1_transA": (lambda: _model([helper.make_node("Gemm", ["x", "w"], ["y"], transA=1, transB=1)],
                                           [_x("x", [6, None])], "y", [("w", _w(4, 6))]), (6, 3)),
    "matmul_const_right_3d": (lambda: _model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                                             [_x("x", [None, 5, 6])], "y", [("w", _w(6, 4))]), (2, 5, 6)),
    "matmul_const_left": (lambda: _model([helper.make_node("MatMul", ["w", "x"], ["y"])],
                                         [_x("x", [None, 6, 5])], "y", [("w", _w(4, 6))]), (2, 6, 5)),
    "constant_node_weight": (lambda: _model([helper.make_node("Constant", [], ["w"],
                                                              value=numpy_helper.from_array(_w(6, 3), "w")),
                                             helper.make_node("MatMul", ["x", "w"], ["y"])],
                                            [_x("x", [None, 6])], "y"), (4, 6)),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mapping", ["block", "per_group"])
def test_every_mapped_op_reproduces_onnxruntime_on_ideal_tiles(case, mapping):
    build, shape = CASES[case]
    model = build()
    feeds = {"x": RNG.standard_normal(shape).astype(np.float32)}
    cfg = get_preset("ideal")
    cfg = dataclasses.replace(cfg, tile=dataclasses.replace(cfg.tile, rows=16, cols=8, group_mapping=mapping))
    sim = OnnxCrossbarModel(model, cfg)
    assert len(sim.nodes) == 1 and not sim.digital_nodes, (sim.nodes, sim.digital_nodes)
    sim.program(np.random.default_rng(1))
    out = sim.run(feeds, 0.0, None)[0]
    ref = fp32_outputs(model, feeds)[0]
    assert out.shape == ref.shape and sqnr_db(ref, out) > 100


def test_block_and_per_group_state_tiles_and_utilisation():
    model = CASES["depthwise"][0]()
    tile = get_preset("ideal").tile
    infos = {}
    for mapping in ("block", "per_group"):
        cfg = dataclasses.replace(get_preset("ideal"), tile=dataclasses.replace(tile, group_mapping=mapping))
        infos[mapping] = OnnxCrossbarModel(model, cfg).nodes[0]
    block, per_group = infos["block"], infos["per_group"]
    # 8 groups of a 9x1 block: all 8 share one 256x256 tile block-diagonally, or get a 9x1 tile each
    assert (block.tiles, block.tile_rows, block.tile_cols) == (1, 256, 256)
    assert block.utilisation == pytest.approx(8 * 9 / 256**2)
    assert (per_group.tiles, per_group.tile_rows, per_group.tile_cols, per_group.utilisation) == (8, 9, 1, 1.0)


def test_off_diagonal_cells_of_block_mapping_add_noise():
    """Block-diagonal packing puts the other groups' G_min cells on each column: noisier than one tile per group."""
    model = CASES["depthwise"][0]()
    feeds = {"x": RNG.standard_normal((4, 8, 9, 9)).astype(np.float32)}
    sqnr = {}
    for mapping in ("block", "per_group"):
        cfg = get_preset("rram")
        cfg = dataclasses.replace(cfg, tile=dataclasses.replace(cfg.tile, group_mapping=mapping))
        sqnr[mapping] = simulate(model, cfg, feeds, drift_times=[1.0], repeats=4).sqnr_db.mean()
    assert sqnr["per_group"] > sqnr["block"] + 1.0, sqnr


def test_all_ones_drift_readout_on_one_column_tiles_is_flagged_and_fails_as_flagged():
    """The pcm preset's all_ones read-out is one |column sum| on a depthwise conv's one-column tiles: the result
    says so, and a zero-sum filter (an edge detector, common in real models) shows why: its read-out is noise, so
    its compensation factor is arbitrary, while mean_abs on the same tiles is far cleaner; block tiles get no note."""
    edge = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32) / 8
    w = np.stack([edge if g % 2 else _w(3, 3) for g in range(8)])[:, None]
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], group=8, pads=[1, 1, 1, 1])],
                   [_x("x", [None, 8, 9, 9])], "y", [("w", w)])
    feeds = {"x": RNG.standard_normal((4, 8, 9, 9)).astype(np.float32)}
    results = {}
    for mapping, readout in (("per_group", "all_ones"), ("per_group", "mean_abs"), ("block", "all_ones")):
        cfg = get_preset("pcm")
        cfg = dataclasses.replace(cfg, drift_compensation=readout,
                                  tile=dataclasses.replace(cfg.tile, group_mapping=mapping))
        results[mapping, readout] = simulate(model, cfg, feeds, drift_times=[86400.0], repeats=4)
    flagged = results["per_group", "all_ones"]
    assert len(flagged.notes) == 1 and "one-column tiles" in flagged.notes[0] and "mean_abs" in flagged.notes[0]
    assert not results["per_group", "mean_abs"].notes and not results["block", "all_ones"].notes
    assert results["per_group", "mean_abs"].sqnr_db.mean() > flagged.sqnr_db.mean() + 3.0


def test_attention_matmul_stays_digital_and_says_why():
    model = _model([helper.make_node("MatMul", ["q", "k"], ["s"]), helper.make_node("MatMul", ["s", "w"], ["y"])],
                   [_x("q", [None, 4, 6]), _x("k", [None, 6, 4])], "y", [("w", _w(4, 3))])
    feeds = {"q": _w(2, 4, 6), "k": _w(2, 6, 4)}
    res = simulate(model, "ideal", feeds)
    assert [n.name for n in res.nodes] == ["y"]
    assert [(n.name, n.op_type) for n in res.digital_nodes] == [("s", "MatMul")]
    assert "both operands are activations" in res.digital_nodes[0].reason
    assert res.to_json()["digital_nodes"][0]["reason"] == res.digital_nodes[0].reason
    assert res.sqnr_db.min() > 100


def test_unknown_shapes_are_sized_by_a_run_for_the_cost():
    """A Reshape to a computed shape leaves ONNX shape inference without sizes; the cost model runs the model."""
    from edgeq.hw_models import extract_layers

    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Reshape", ["x", "s"], ["r"]),
             helper.make_node("MatMul", ["r", "w"], ["y"])]
    model = _model(nodes, [_x("x", [None, None])], "y", [("w", _w(6, 3))])
    with pytest.raises(Exception, match="unknown sizes"):
        extract_layers(model)
    layers = extract_layers(model, feeds={"x": _w(1, 6)})
    mm = [la for la in layers if la.op == "MatMul"][0]
    assert (mm.k_rows, mm.n_cols, mm.macs) == (6, 3, 18)


def test_cost_prices_the_group_mapping_the_simulator_uses():
    from edgeq.hw_models import MacroConfig, network_cost

    model = CASES["depthwise"][0]()
    feeds = {"x": _w(1, 8, 9, 9)}
    costs = {m: network_cost(model, "int8", target="analog", hw=MacroConfig(group_mapping=m), feeds=feeds)
             for m in ("block", "per_group")}
    tiles = {m: [la for la in c.layers if la.macs][0].tiles for m, c in costs.items()}
    assert tiles == {"block": 1, "per_group": 8}
    assert any("block-diagonal" in note for note in costs["block"].notes)


def test_a_bug_in_the_tile_mapping_is_an_internal_error_of_one_line(tmp_path, capsys, monkeypatch):
    """A failure inside the mapping that bad input does not explain exits 3 and names the node, no traceback."""
    import edgeq.simulators.onnx_sim as onnx_sim
    from edgeq.cli import main

    onnx.save(CASES["depthwise"][0](), str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "d.npz", x=_w(2, 8, 9, 9))

    def broken(*args, **kwargs):
        raise IndexError("index 9 is out of bounds")

    monkeypatch.setattr(onnx_sim, "conv_patches", broken)
    code = main(["simulate", str(tmp_path / "m.onnx"), "--preset", "ideal", "--eval", str(tmp_path / "d.npz"),
                 "--drift", "1s", "--repeats", "1", "-o", str(tmp_path / "r.json"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1, err
    assert "internal error" in err[0] and "node y (Conv)" in err[0] and "IndexError" in err[0]
    assert not (tmp_path / "r.json").exists()
