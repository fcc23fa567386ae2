"""QAT export through edgeq's ONNX plan exporter, and the `edgeq qat` command."""

import json
import textwrap

import numpy as np
import pytest
import torch

import edgeq.qat as qat
from edgeq.cli import main
from edgeq.qat.export import export_qat
from edgeq.study.models import digits_cnn_from_onnx, split_digits


@pytest.fixture(scope="module")
def digits():
    return split_digits()


@pytest.mark.parametrize("fmt", ["int8", pytest.param("fp8_e4m3", marks=pytest.mark.slow), "fp8_e3m4"])
def test_exported_qat_model_runs_like_the_torch_model(digits, fmt):
    model = digits_cnn_from_onnx()
    x = torch.from_numpy(digits["eval_x"][:200])
    q = qat.prepare(model, fmt, fmt, "channel", calib=[torch.from_numpy(digits["calib_x"])])
    exported = export_qat(q, x)
    assert {e.role for e in exported.plan} == {"weight", "activation"}
    assert len(exported.plan) == 2 * len(qat.quant_layers(q))
    for mode, fidelity in exported.fidelity.items():
        assert fidelity.ok and fidelity.agreement == 1.0 and fidelity.sqnr_db > 60, mode
    assert exported.simulation.ok and exported.simulation.sqnr_db > 60  # edgeq's own simulation of the plan agrees
    # Runtimes execute INT8 / E4M3 as QDQ; E3M4 has no ONNX type, so it becomes exact fake-quant ops instead.
    has_qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in exported.model.graph.node)
    assert has_qdq == (fmt != "fp8_e3m4")


def _write_project(tmp_path, digits, n=300):
    (tmp_path / "model.py").write_text(textwrap.dedent("""
        from torch import nn

        def build():
            return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    """))
    np.savez(tmp_path / "train.npz", image=digits["train_x"][:n], labels=digits["train_y"][:n])
    np.savez(tmp_path / "eval.npz", image=digits["eval_x"][:200], labels=digits["eval_y"][:200])


@pytest.mark.slow
def test_cli_trains_and_writes_report(tmp_path, digits):
    _write_project(tmp_path, digits)
    code = main([
        "qat", f"{tmp_path / 'model.py'}:build", "--data", str(tmp_path / "train.npz"), "--eval",
        str(tmp_path / "eval.npz"), "--fmt", "fp8_e4m3", "--epochs", "3", "--lr", "1e-2", "--convert-to", "int8", "--onnx",
        "--out",
        str(tmp_path / "out"), "--no-progress",
    ])
    assert code == 0
    report = json.loads((tmp_path / "out" / "qat_report.json").read_text())
    assert report["weights"] == "fp8_e4m3" and len(report["epoch_loss"]) == 3
    assert report["epoch_loss"][-1] < report["epoch_loss"][0]
    assert report["qat_acc"] > 0.5  # an untrained net starts near 10%
    assert (tmp_path / "out" / "qat_model.pt").stat().st_size > 0
    assert report["converted"]["format"] == "int8" and report["converted"]["sqnr_db_vs_qat"] > 20
    assert all(f["ok"] for f in report["onnx_fidelity"].values())
    assert (tmp_path / "out" / "qat_model.onnx").stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["nofile.py:build"], "does not exist"),
    (["MODEL:nope"], "has no function"),
    (["MODEL"], "FILE.py:factory"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, digits, capsys, args, message):
    _write_project(tmp_path, digits, n=20)
    args = [a.replace("MODEL", str(tmp_path / "model.py")) for a in args]
    code = main(["qat", *args, "--data", str(tmp_path / "train.npz"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_cli_rejects_data_without_labels(tmp_path, digits, capsys):
    _write_project(tmp_path, digits, n=20)
    np.savez(tmp_path / "bad.npz", image=digits["train_x"][:20])
    code = main(["qat", f"{tmp_path / 'model.py'}:build", "--data", str(tmp_path / "bad.npz"), "--no-progress"])
    assert code == 2 and "labels" in capsys.readouterr().err
