"""simulate and `edgeq simulate`: the digits models on tiles, degradation with noise and drift, CLI rules."""

import dataclasses
import json

import numpy as np
import onnx
import pytest
from edgeq.simulators import get_preset
from edgeq.simulators import simulate
from edgeq.simulators.report import format_duration, parse_durations
from onnx import TensorProto, helper, numpy_helper

from edgeq.cli import main


@pytest.fixture(scope="module")
def digits(examples_dir):
    with np.load(examples_dir / "digits_eval.npz") as d:
        return {"image": d["image"]}, d["labels"]


def _scaled_rram(scale: float):
    cfg = get_preset("rram")
    dev = cfg.device
    dev = dataclasses.replace(
        dev,
        programming=dataclasses.replace(dev.programming, scale=scale),
        read=dataclasses.replace(dev.read, scale=scale),
        relaxation=dataclasses.replace(dev.relaxation, scale=scale),
    )
    return dataclasses.replace(cfg, device=dev, name=f"rram_x{scale}")


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_digits_keep_accuracy_on_ideal_preset(kind, examples_dir, digits):
    feeds, labels = digits
    res = simulate(examples_dir / f"digits_{kind}.onnx", get_preset("ideal"), feeds, labels, [0.0, 3.15e7])
    assert res.accuracy.min() >= 0.97
    assert res.accuracy.min() == res.fp32_accuracy and res.sqnr_db.min() > 100  # float-exact up to rounding
    assert [n.op_type for n in res.nodes] == (["Gemm"] * 3 if kind == "mlp" else ["Conv"] * 3 + ["Gemm"] * 2)


def test_mlp_degrades_monotonically_with_noise(examples_dir, digits):
    feeds, labels = digits
    sqnr, acc = [], []
    for scale in (0.0, 1.0, 3.0, 6.0):
        res = simulate(examples_dir / "digits_mlp.onnx", _scaled_rram(scale), feeds, labels, [1.0], repeats=3)
        sqnr.append(res.sqnr_db.mean())
        acc.append(res.accuracy.mean())
    assert all(a > b for a, b in zip(sqnr, sqnr[1:])), sqnr
    assert all(a >= b - 0.003 for a, b in zip(acc, acc[1:])) and acc[-1] < acc[0] - 0.01, acc


@pytest.mark.parametrize("preset", ["rram", "pcm"])
def test_mlp_degrades_monotonically_with_drift(preset, examples_dir, digits):
    feeds, labels = digits
    times = [1.0, 86400.0, 3.15e7]  # 1 s and 1 h differ by less than the chip-to-chip spread for PCM
    res = simulate(examples_dir / "digits_mlp.onnx", get_preset(preset), feeds, labels, times, repeats=6, seed=3)
    sqnr = res.sqnr_db.mean(axis=0)
    assert all(a > b for a, b in zip(sqnr, sqnr[1:])), sqnr
    assert res.accuracy.mean(axis=0)[-1] <= res.accuracy.mean(axis=0)[0]


def test_matmul_and_float_ops_run_alongside(tmp_path):
    """A MatMul with a 3-D input, then Softmax in float: the simulator's result matches onnxruntime's when ideal."""
    w = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Softmax", ["h"], ["y"], axis=-1)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(1).standard_normal((5, 3, 6)).astype(np.float32)
    res = simulate(model, get_preset("ideal"), {"x": x})
    assert res.sqnr_db.min() > 100 and res.nodes[0].op_type == "MatMul"


def test_duration_parsing():
    assert parse_durations("1s,1h,1d,1y") == [1.0, 3600.0, 86400.0, 365.25 * 86400.0]
    assert parse_durations("0, 10m,2w") == [0.0, 600.0, 14 * 86400.0]
    assert [format_duration(t) for t in (1.0, 3600.0, 86400.0, 365.25 * 86400.0, 0.0)] == ["1s", "1h", "1d", "1y", "0"]
    with pytest.raises(ValueError, match="unit"):
        parse_durations("1x")


def test_cli_writes_table_json_png_and_is_deterministic(examples_dir, tmp_path, capsys):
    args = [
        "simulate",
        str(examples_dir / "digits_mlp.onnx"),
        "--preset",
        "rram",
        "--eval",
        str(examples_dir / "digits_eval.npz"),
    ]
    args += ["--drift", "1s,1d", "--repeats", "2", "--seed", "4"]
    assert main(args + ["--out-dir", str(tmp_path / "a")]) == 0
    assert "SQNR" in capsys.readouterr().out
    assert main(args + ["--out-dir", str(tmp_path / "b")]) == 0
    for name in ("results.json", "accuracy_vs_time.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    data = json.loads((tmp_path / "a" / "results.json").read_text())
    assert data["repeats"] == 2 and len(data["summary"]) == 2 and 0.9 < data["summary"][0]["accuracy_mean"] <= 1.0
    assert (tmp_path / "a" / "accuracy_vs_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"model": "missing.onnx"}, "does not exist"),
        ({"hw": "nope"}, "unknown crossbar preset"),
        ({"drift": "1parsec"}, "cannot read drift time"),
        ({"repeats": "0"}, "repeats"),
        ({"eval": "calib"}, None),  # calibration data has no labels: runs, reports SQNR only
        ({"bad_model": True}, "not an ONNX model"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(change, message, examples_dir, tmp_path, capsys):
    model = examples_dir / "digits_mlp.onnx"
    if change.get("bad_model"):
        model = tmp_path / "bad.onnx"
        model.write_bytes(b"not an onnx file")
    if "model" in change:
        model = tmp_path / change["model"]
    data = examples_dir / ("digits_calib.npz" if change.get("eval") == "calib" else "digits_eval.npz")
    out = tmp_path / "out"
    args = ["simulate", str(model), "--preset", change.get("hw", "ideal"), "--eval", str(data), "--out-dir", str(out)]
    args += ["--drift", change.get("drift", "1s"), "--repeats", change.get("repeats", "1")]
    code = main(args)
    err = capsys.readouterr().err
    if message is None:
        assert code == 0 and json.loads((out / "results.json").read_text())["summary"][0].get("accuracy_mean") is None
        return
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_rejects_data_without_the_model_input(examples_dir, tmp_path, capsys):
    np.savez(tmp_path / "wrong.npz", pixels=np.zeros((3, 1, 8, 8), np.float32))
    code = main(
        ["simulate", str(examples_dir / "digits_mlp.onnx"), "--preset", "ideal", "--eval", str(tmp_path / "wrong.npz")]
    )
    assert code == 2 and "no array for model input" in capsys.readouterr().err


def test_model_is_not_modified(examples_dir, tmp_path):
    before = (examples_dir / "digits_mlp.onnx").read_bytes()
    main(
        [
            "simulate",
            str(examples_dir / "digits_mlp.onnx"),
            "--preset",
            "pcm",
            "--eval",
            str(examples_dir / "digits_eval.npz"),
            "--drift",
            "1s",
            "--repeats",
            "1",
            "--out-dir",
            str(tmp_path / "o"),
        ]
    )
    assert (examples_dir / "digits_mlp.onnx").read_bytes() == before
    assert onnx.load(str(examples_dir / "digits_mlp.onnx")).graph.node[1].op_type == "Gemm"


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--wire-ohm", "nan"], "--wire-ohm must be a finite number"),
        (["--labels", "wrongkey"], "--labels 'wrongkey'"),
        (["--drift", "1e300y"], "beyond 1e12 s"),
        (["--out-dir", "{file}"], "is an existing file"),
        (["-o", "{file}"], "exists; pass --force"),
        (["--tech", "3nm"], "--tech"),
        (["--eval", "{nan_eval}"], "NaN or inf"),
        ([], "pass --preset"),
    ],
)
def test_cli_bad_values_are_one_line_exit_2(extra, message, examples_dir, tmp_path, capsys):
    """Each bad value of the issue's list fails before any work with one line and exit 2."""
    (tmp_path / "file").write_text("earlier")
    with np.load(examples_dir / "digits_eval.npz") as d:
        image = d["image"].copy()
    image.reshape(len(image), -1)[3, 5] = np.nan
    np.savez(tmp_path / "nan.npz", image=image)
    extra = [e.format(file=tmp_path / "file", nan_eval=tmp_path / "nan.npz") for e in extra]
    preset = [] if message == "pass --preset" else ["--preset", "ideal"]
    args = ["simulate", str(examples_dir / "digits_mlp.onnx"), *preset, "--eval", str(examples_dir / "digits_eval.npz")]
    code = main(args + ["--drift", "1s", "--repeats", "1", "--out-dir", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "file").read_text() == "earlier"


def test_cli_never_overwrites_an_earlier_run_without_force(examples_dir, tmp_path, capsys, monkeypatch):
    args = ["simulate", str(examples_dir / "digits_mlp.onnx"), "--preset", "ideal", "--eval",
            str(examples_dir / "digits_eval.npz"), "--drift", "1s", "--repeats", "1", "-q"]
    out = tmp_path / "run"
    assert main(args + ["--out-dir", str(out)]) == 0
    (out / "results.json").write_text("mine")
    assert main(args + ["--out-dir", str(out)]) == 2 and "--force" in capsys.readouterr().err
    assert (out / "results.json").read_text() == "mine"
    assert main(args + ["--out-dir", str(out), "--force"]) == 0 and (out / "results.json").read_text() != "mine"
    monkeypatch.chdir(tmp_path)  # the default folder takes the next free suffix instead of overwriting
    assert main(args) == 0 and main(args) == 0
    assert sorted(p.name for p in (tmp_path / "runs" / "simulate").iterdir()) == ["digits_mlp-ideal", "digits_mlp-ideal-2"]


def test_cli_json_prints_the_file_and_deprecated_flags_warn(examples_dir, tmp_path, capsys):
    args = ["simulate", str(examples_dir / "digits_mlp.onnx"), "--hw", "ideal", "--eval",
            str(examples_dir / "digits_eval.npz"), "--drift", "1s", "--repeats", "1", "--json"]
    assert main(args + ["-o", str(tmp_path / "r.json")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == json.loads((tmp_path / "r.json").read_text())
    assert "--hw is deprecated" in captured.err
    printed = json.loads(captured.out)
    assert printed["cost"]["tech"] == "7nm" and "7nm" in printed["cost"]["line"]


def test_cli_input_of_wrong_shape_is_a_clear_error(examples_dir, tmp_path, capsys):
    np.savez(tmp_path / "wrong.npz", image=np.zeros((3, 1, 7, 7), np.float32), labels=np.zeros(3, np.int64))
    out = tmp_path / "o"
    args = ["simulate", str(examples_dir / "digits_mlp.onnx"), "--preset", "rram", "--eval", str(tmp_path / "wrong.npz")]
    code = main(args + ["--repeats", "1", "--out-dir", str(out)])
    err = capsys.readouterr().err
    # the data is checked against the model's input shapes before anything runs
    assert code == 2 and "has shape [3, 1, 7, 7], the model expects [N, 1, 8, 8]" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_simulator_names_the_node_when_tiles_get_a_wrong_width():
    """Shape errors inside the tile path name the node (the FP32 check above catches them first in the CLI)."""
    from edgeq.simulators.onnx_sim import OnnxCrossbarModel

    w = np.ones((6, 4), np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")],
    )
    sim = OnnxCrossbarModel(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), get_preset("ideal"))
    sim.program(np.random.default_rng(0))
    with pytest.raises(ValueError, match="node mm .*features"):
        sim.run({"x": np.ones((2, 5), np.float32)}, 0.0, None)


def test_simulators_package_does_not_import_the_cost_model():
    """Layering: simulators and hw_models are peers; the CLI composes them."""
    import subprocess
    import sys

    code = ("import sys, edgeq.simulators, edgeq.simulators.api, edgeq.simulators.job; "
            "print(any(m.startswith('edgeq.hw_models') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_cli_takes_a_folder_of_per_run_feeds_like_quantize(tmp_path, capsys):
    """A stateful model's data is a folder of .npz files, one per run, of different lengths: simulate takes it as
    quantize does, runs each as stored, and scores every run (ideal tiles reproduce FP32, noisy ones do not)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((6, 5)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Concat", ["x", "state"], ["xs"], axis=1), helper.make_node("MatMul", ["xs", "w"], ["y"])],
        "stateful", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", 4]),
                     helper.make_tensor_value_info("state", TensorProto.FLOAT, ["T", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", 5])], [w])
    model = tmp_path / "stateful.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    folder = tmp_path / "runs"
    folder.mkdir()
    for k, length in enumerate((3, 7)):
        np.savez(folder / f"feed_{k}.npz", x=rng.standard_normal((length, 4)).astype(np.float32),
                 state=rng.standard_normal((length, 2)).astype(np.float32))
    for preset, exact in (("ideal", True), ("rram", False)):
        out = tmp_path / f"{preset}.json"
        code = main(["simulate", str(model), "--preset", preset, "--eval", str(folder), "--drift", "1s", "--repeats",
                     "1", "-o", str(out), "-q"])
        assert code == 0, capsys.readouterr().err
        sqnr = json.loads(out.read_text())["summary"][0]["sqnr_db_mean"]
        assert (sqnr == "inf" or sqnr > 100) if exact else 0 < sqnr < 60


def test_a_float_node_that_fails_is_named_even_inside_a_run_of_float_nodes():
    """Consecutive float nodes run as one onnxruntime session; when that run fails, the nodes run one by one so the
    error names the node that failed (one line, exit 2 in the CLI) instead of the whole run."""
    from edgeq.errors import UserError
    from edgeq.simulators.onnx_sim import OnnxCrossbarModel

    w = numpy_helper.from_array(np.ones((4, 6), np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1, 5], np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("Reshape", ["r", "shape"], ["y"], name="reshape_to_5")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sim = OnnxCrossbarModel(model, get_preset("ideal"))
    sim.program(np.random.default_rng(0))
    assert sim.run({"x": np.ones((5, 4), np.float32)}, 0.0, None)[0].shape == (6, 5)  # 30 values: reshapes
    with pytest.raises(UserError, match=r"node reshape_to_5 \(Reshape\) failed"):
        sim.run({"x": np.ones((3, 4), np.float32)}, 0.0, None)  # 18 values cannot be (-1, 5)
