"""End-to-end gate runs on the shipped digits models through the CLI: pass, regression, and not-comparable exits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from edgeq.cli import main
from gate_helpers import copy_examples, perturb_initializer, write_config


@pytest.fixture
def mlp_gate(tmp_path):
    """A gate over the MLP (float, and int8 weights) with its baseline recorded; returns the config path."""
    copy_examples(tmp_path, "digits_mlp.onnx", "digits_eval.npz")
    config = write_config(tmp_path, [
        {"name": "mlp", "command": "evaluate", "model": "digits_mlp.onnx", "eval": "digits_eval.npz"},
        {"name": "mlp-int8", "command": "evaluate", "model": "digits_mlp.onnx", "eval": "digits_eval.npz",
         "options": {"weights": "int8"}},
    ])
    assert main(["gate", "update", str(config)]) == 0
    return config


def test_unchanged_model_passes(mlp_gate, capsys):
    assert main(["gate", "run", str(mlp_gate)]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "regression" not in out


def test_degraded_model_fails_naming_case_and_metric(mlp_gate, capsys):
    perturb_initializer(mlp_gate.parent / "digits_mlp.onnx", "fc2.weight", sigma=0.5)
    code = main(["gate", "run", str(mlp_gate), "--json-file", str(mlp_gate.parent / "out.json")])
    out = capsys.readouterr().out
    assert code == 1
    assert "mlp / accuracy: regression" in out and "REGRESSED" in out
    result = json.loads((mlp_gate.parent / "out.json").read_text())
    regressed = {(r["case"], r["metric"]) for r in result["rows"] if r["status"] == "regression"}
    assert ("mlp", "accuracy") in regressed and ("mlp-int8", "accuracy") in regressed
    assert result["notes"]["mlp"][0].startswith("model changed")


def test_changed_weight_format_is_judged_as_a_regression(mlp_gate, capsys):
    """A changed quantization recipe (int8 -> int3 weights) is compared, with a note, and fails on accuracy."""
    raw = yaml.safe_load(mlp_gate.read_text())
    raw["cases"][1]["options"]["weights"] = "int3"
    mlp_gate.write_text(yaml.safe_dump(raw))
    assert main(["gate", "run", str(mlp_gate)]) == 1
    out = capsys.readouterr().out
    assert "mlp-int8 / sqnr_db: regression" in out and "options changed: weights: 'int8' -> 'int3'" in out


def test_missing_metric_exits_2(mlp_gate, capsys):
    raw = yaml.safe_load(mlp_gate.read_text())
    del raw["cases"][1]["options"]  # no weight change -> no sqnr_db/agreement, which the baseline gates
    mlp_gate.write_text(yaml.safe_dump(raw))
    assert main(["gate", "run", str(mlp_gate)]) == 2
    out = capsys.readouterr().out
    assert "mlp-int8 / sqnr_db: missing" in out and "NOT COMPARABLE" in out


def test_missing_case_exits_2(mlp_gate, capsys):
    raw = yaml.safe_load(mlp_gate.read_text())
    raw["cases"] = raw["cases"][:1]
    mlp_gate.write_text(yaml.safe_dump(raw))
    assert main(["gate", "run", str(mlp_gate)]) == 2
    assert "case is in the baseline but not in the config" in capsys.readouterr().out


def test_changed_eval_data_is_not_comparable(mlp_gate, capsys):
    path = mlp_gate.parent / "digits_eval.npz"
    with np.load(path) as data:
        arrays = dict(data)
    arrays["labels"] = arrays["labels"].copy()
    arrays["labels"][0] = (arrays["labels"][0] + 1) % 10
    np.savez(path, **arrays)
    assert main(["gate", "run", str(mlp_gate)]) == 2
    assert "eval data changed" in capsys.readouterr().out


def test_missing_baseline_and_bad_config_exit_2(tmp_path, capsys):
    copy_examples(tmp_path, "digits_mlp.onnx", "digits_eval.npz")
    config = write_config(tmp_path, [{"name": "mlp", "command": "evaluate", "model": "digits_mlp.onnx",
                                      "eval": "digits_eval.npz"}])
    assert main(["gate", "run", str(config)]) == 2
    assert "edgeq gate update" in capsys.readouterr().err
    bad = write_config(tmp_path, [{"name": "mlp", "command": "evaluate", "modle": "x.onnx"}])
    assert main(["gate", "run", str(bad)]) == 2
    assert "unknown key(s) modle" in capsys.readouterr().err
    assert main(["gate", "run", str(tmp_path / "nope.yaml")]) == 2


def test_update_shows_diff_and_refuses_failing_cases(mlp_gate, capsys):
    baseline = mlp_gate.parent / "gate.baseline.json"
    before = baseline.read_text()
    perturb_initializer(mlp_gate.parent / "digits_mlp.onnx", "fc2.weight", sigma=0.5)
    assert main(["gate", "update", str(mlp_gate), "--case", "mlp", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "changed" in out and "dry run" in out and baseline.read_text() == before
    assert main(["gate", "update", str(mlp_gate), "--case", "mlp"]) == 0
    after = json.loads(baseline.read_text())
    assert after["cases"]["mlp"]["metrics"]["accuracy"]["value"] < json.loads(before)["cases"]["mlp"]["metrics"][
        "accuracy"]["value"]
    assert after["cases"]["mlp-int8"] == json.loads(before)["cases"]["mlp-int8"]  # --case keeps the others
    raw = yaml.safe_load(mlp_gate.read_text())
    raw["cases"][0]["command"] = "no-such-command"
    mlp_gate.write_text(yaml.safe_dump(raw))
    assert main(["gate", "update", str(mlp_gate)]) == 2
    assert "unknown gate command" in capsys.readouterr().err


def test_show_prints_baseline(mlp_gate, capsys):
    assert main(["gate", "show", str(mlp_gate)]) == 0
    out = capsys.readouterr().out
    assert "mlp-int8" in out and "sqnr_db" in out and "onnxruntime" in out
    assert main(["gate", "show", str(mlp_gate.parent / "gate.baseline.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["schema"] == "edgeq-gate-baseline"


def test_update_is_deterministic(mlp_gate):
    baseline = mlp_gate.parent / "gate.baseline.json"
    first = baseline.read_bytes()
    assert main(["gate", "update", str(mlp_gate)]) == 0
    assert baseline.read_bytes() == first


def test_cost_metrics_must_match_exactly(tmp_path, capsys):
    copy_examples(tmp_path, "digits_cnn.onnx")
    case = {"name": "cnn-cost", "command": "cost", "model": "digits_cnn.onnx",
            "options": {"plan": "int8", "target": "digital", "tech": "7nm"}}
    config = write_config(tmp_path, [case])
    assert main(["gate", "update", str(config)]) == 0
    assert main(["gate", "run", str(config)]) == 0
    case["options"]["plan"] = "fp8_e4m3"  # a different precision plan changes energy and area, not the MACs
    write_config(tmp_path, [case])
    assert main(["gate", "run", str(config)]) == 1
    out = capsys.readouterr().out
    assert "cnn-cost / energy_pj: mismatch" in out and "cnn-cost / macs" not in out


def test_shipped_self_gate_config_and_baseline_agree():
    """The self-gate `.ci/run` executes: every case has a baseline entry (and no stale ones), int8/fp8 are covered."""
    from edgeq.gate import load_baseline, load_config
    from gate_helpers import EXAMPLES

    config = load_config(EXAMPLES / "edgeq_self_gate.yaml")
    assert load_config("example:edgeq_self_gate.yaml").baseline_path == config.baseline_path  # ships in the wheel
    baseline = load_baseline(config.baseline_path)
    assert [c.name for c in config.cases] and {c.name for c in config.cases} == set(baseline.cases)
    formats = {c.options.get("fmt") for c in config.cases if c.command == "quantize"}
    assert {"int8", "fp8_e4m3"} <= formats
    assert {c.options.get("preset") for c in config.cases if c.command == "simulate"} >= {"rram"}
    assert all(baseline.cases[c.name].eval_hash for c in config.cases if c.eval)


def test_only_failing_hides_passing_rows(mlp_gate, capsys):
    perturb_initializer(mlp_gate.parent / "digits_mlp.onnx", "fc2.weight", sigma=0.5)
    assert main(["gate", "run", str(mlp_gate), "--only-failing"]) == 1
    table = capsys.readouterr().out.split("mlp / accuracy: regression")[0]
    assert "regression" in table and "│ pass" not in table and "param_count" not in table
