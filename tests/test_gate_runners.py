"""Runner adapters: the quantize report mapping, and quantize/simulate cases end to end."""

from __future__ import annotations

import pytest
import yaml

from edgeq.cli import main
from edgeq.gate import get_runner, runner_names
from edgeq.gate.runners.quantize import metrics_from_report
from gate_helpers import copy_examples, perturb_initializer, write_config


def test_quantize_report_keeps_fractions_and_takes_the_worst_runtime_mode():
    report = {"accuracy_fp32": 0.99, "accuracy_quant": 0.984, "accuracy_drop_pp": 0.6, "agreement": 0.99,
              "sqnr_db": "inf", "size_bytes_quant": 52948, "latency_ms_quant": 0.3,
              "fidelity": {"ort_disable_all": {"agreement": 1.0}, "ort_default": {"agreement": 0.97}}}
    metrics = metrics_from_report(report)
    assert metrics == pytest.approx({"accuracy_fp32": 0.99, "accuracy_quant": 0.984, "accuracy_drop_pp": 0.6,
                                     "agreement": 0.99, "sqnr_db": float("inf"), "size_bytes": 52948.0,
                                     "runtime_agreement": 0.97})
    assert "accuracy_fp32" not in metrics_from_report({"accuracy_fp32": None, "sqnr_db": 30.0})


def test_registry_knows_every_command():
    assert {"evaluate", "quantize", "simulate", "qat-export", "cost", "python"} <= set(runner_names())
    with pytest.raises(Exception, match="unknown gate command"):
        get_runner("quantise")


def test_changed_calibration_method_regresses_naming_case_and_metric(tmp_path, capsys):
    copy_examples(tmp_path, "digits_cnn.onnx", "digits_calib.npz", "digits_eval.npz")
    case = {"name": "cnn-int8", "command": "quantize", "model": "digits_cnn.onnx", "calib": "digits_calib.npz",
            "eval": "digits_eval.npz", "options": {"fmt": "int8", "calib_method": "minmax"}}
    config = write_config(tmp_path, [case])
    assert main(["gate", "update", str(config)]) == 0
    assert main(["gate", "run", str(config)]) == 0
    raw = yaml.safe_load(config.read_text())
    raw["cases"][0]["options"]["calib_method"] = "percentile:99.9"
    config.write_text(yaml.safe_dump(raw))
    assert main(["gate", "run", str(config)]) == 1
    out = capsys.readouterr().out
    assert "cnn-int8 / sqnr_db: regression" in out
    assert "options changed: calib_method: 'minmax' -> 'percentile:99.9'" in out


def test_simulation_repeats_become_samples():
    import numpy as np

    from edgeq.gate.runners.simulate import metrics_from_simulation

    samples = metrics_from_simulation(np.array([[0.94], [0.96]]), np.array([[20.0], [22.0]]))
    assert samples == {"accuracy": [0.94, 0.96], "sqnr_db": [20.0, 22.0]}
    assert metrics_from_simulation(None, np.array([[30.0]])) == {"sqnr_db": [30.0]}


def test_qat_export_gates_the_exported_model_against_its_reference(tmp_path, capsys):
    copy_examples(tmp_path, "digits_mlp.onnx", "digits_eval.npz")
    exported = tmp_path / "mlp_qat.onnx"
    exported.write_bytes((tmp_path / "digits_mlp.onnx").read_bytes())
    perturb_initializer(exported, "fc1.weight", sigma=0.01)  # stands in for a QAT export: close to the float model
    case = {"name": "mlp-qat", "command": "qat-export", "model": "mlp_qat.onnx", "eval": "digits_eval.npz",
            "options": {"reference": "digits_mlp.onnx"}}
    config = write_config(tmp_path, [case])
    assert main(["gate", "update", str(config)]) == 0
    assert main(["gate", "run", str(config)]) == 0
    perturb_initializer(exported, "fc3.weight", sigma=0.6, seed=1)  # a broken export
    assert main(["gate", "run", str(config)]) == 1
    assert "mlp-qat / accuracy_quant: regression" in capsys.readouterr().out
    del case["options"]
    write_config(tmp_path, [case])
    assert main(["gate", "run", str(config)]) == 2
    assert "qat-export needs `options: {reference: float_model.onnx}`" in capsys.readouterr().out


def test_analog_drift_regresses_while_fresh_chips_pass(tmp_path, capsys):
    """Other seeds (new Monte-Carlo chips) pass within k SE; a year of drift on the RRAM preset fails on SQNR."""
    copy_examples(tmp_path, "digits_mlp.onnx", "digits_eval.npz")
    case = {"name": "mlp-rram", "command": "simulate", "model": "digits_mlp.onnx", "eval": "digits_eval.npz",
            "options": {"preset": "rram", "repeats": 4}, "seeds": [0]}
    config = write_config(tmp_path, [case])
    assert main(["gate", "update", str(config)]) == 0
    case["seeds"] = [1]
    write_config(tmp_path, [case])
    assert main(["gate", "run", str(config)]) == 0
    case["options"]["drift_s"] = 3.15e7
    write_config(tmp_path, [case])
    assert main(["gate", "run", str(config)]) == 1
    assert "mlp-rram / sqnr_db: regression" in capsys.readouterr().out
