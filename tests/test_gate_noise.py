"""Noise handling: differences inside k standard errors pass, real shifts fail, missing metrics exit 2."""

from __future__ import annotations

import json

import pytest
import yaml

from edgeq.cli import main
from edgeq.gate import run_gate, update_baseline
from gate_helpers import write_config


def _noise_config(tmp_path, seeds, mean=90.0, drop=None):
    options = {"function": "gate_helpers:noisy_metric", "mean": mean, "sigma": 1.0, "samples": 4}
    if drop:
        options["drop"] = drop
    return write_config(
        tmp_path,
        [{"name": "noisy", "command": "python", "options": options, "seeds": seeds}],
        metrics={"score": {"better": "higher", "unit": "pp"}},
        tolerances={"score": {"abs": 0.05}},
    )


def test_noise_within_k_standard_errors_passes(tmp_path):
    update_baseline(_noise_config(tmp_path, [0, 1, 2]))
    outcome = run_gate(_noise_config(tmp_path, [3, 4, 5]))  # fresh draws from the same distribution
    row = next(r for r in outcome.rows if r.metric == "score")
    assert abs(row.delta) > 0.05, "the draws must differ by more than the absolute tolerance for this to test SE"
    assert row.allowed > abs(row.delta) and row.status.value == "pass" and outcome.exit_code == 0
    assert row.base.n == 12 and row.base.spread > 0.5


def test_shift_beyond_k_standard_errors_fails(tmp_path):
    update_baseline(_noise_config(tmp_path, [0, 1, 2]))
    outcome = run_gate(_noise_config(tmp_path, [3, 4, 5], mean=88.0))
    row = next(r for r in outcome.rows if r.metric == "score")
    assert row.status.value == "regression" and outcome.exit_code == 1


def test_metric_missing_from_the_run_exits_2(tmp_path, capsys):
    update_baseline(_noise_config(tmp_path, [0]))
    config = _noise_config(tmp_path, [0], drop="score")
    assert main(["gate", "run", str(config), "--json-file", str(tmp_path / "r.json")]) == 2
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert {(r["metric"], r["status"]) for r in rows} == {("score", "missing"), ("size_bytes", "pass")}


def test_undeclared_custom_metric_is_a_config_error(tmp_path, capsys):
    config = _noise_config(tmp_path, [0])
    raw = yaml.safe_load(config.read_text())
    del raw["metrics"]
    del raw["tolerances"]
    config.write_text(yaml.safe_dump(raw))
    assert main(["gate", "update", str(config)]) == 2
    assert "declare it in the gate config" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [{"k_se": -1}, {"seeds": [1, 1]}, {"seeds": "0"}])
def test_bad_top_level_values_are_rejected(tmp_path, capsys, bad):
    config = write_config(tmp_path, [{"name": "x", "command": "python"}], **bad)
    assert main(["gate", "run", str(config)]) == 2
    assert "edgeq: error:" in capsys.readouterr().err


def test_environment_change_warns_and_strict_env_exits_2(tmp_path, capsys):
    config = _noise_config(tmp_path, [0])
    update_baseline(config)
    path = tmp_path / "gate.baseline.json"
    raw = json.loads(path.read_text())
    raw["environment"]["packages"]["onnxruntime"] = "0.0.1"
    raw["environment"]["cpu_flags"] = sorted(set(raw["environment"]["cpu_flags"]) ^ {"avx512_vnni"})
    path.write_text(json.dumps(raw))
    assert main(["gate", "run", str(config)]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime 0.0.1 ->" in out and "avx512_vnni" in out
    assert main(["gate", "run", str(config), "--strict-env"]) == 2


def test_not_comparable_outranks_regression():
    from edgeq.gate import GateOutcome, Row, Status

    rows = (Row("a", "x", Status.REGRESSION), Row("b", "y", Status.MISSING), Row("c", "z", Status.PASS))
    assert GateOutcome(rows=rows, environment_changes=()).exit_code == 2
    assert GateOutcome(rows=rows[::2], environment_changes=()).exit_code == 1
    assert GateOutcome(rows=(), environment_changes=()).exit_code == 2  # nothing compared is never a pass


def test_metric_gated_by_name_but_absent_from_baseline_exits_2(tmp_path):
    config = _noise_config(tmp_path, [0])
    raw = yaml.safe_load(config.read_text())
    raw["cases"][0]["metrics"] = ["size_bytes"]
    config.write_text(yaml.safe_dump(raw))
    update_baseline(config)
    assert run_gate(config).exit_code == 0
    raw["cases"][0]["metrics"] = ["size_bytes", "score"]  # newly gated by name: the baseline cannot judge it yet
    config.write_text(yaml.safe_dump(raw))
    outcome = run_gate(config)
    assert outcome.exit_code == 2 and [r.status.value for r in outcome.rows if r.metric == "score"] == ["missing"]
    raw["cases"][0].pop("metrics")  # not named: reported as new, not gated
    config.write_text(yaml.safe_dump(raw))
    outcome = run_gate(config)
    assert outcome.exit_code == 0 and [r.status.value for r in outcome.rows if r.metric == "score"] == ["new"]


def test_limits_are_read_from_the_config(tmp_path):
    config = _noise_config(tmp_path, [0])
    raw = yaml.safe_load(config.read_text())
    raw["tolerances"]["score"]["min"] = 95.0
    config.write_text(yaml.safe_dump(raw))
    update_baseline(config)
    outcome = run_gate(config)  # the score is about 90 both times: unchanged, but under the floor
    row = next(r for r in outcome.rows if r.metric == "score")
    assert outcome.exit_code == 1 and "below the absolute limit min 95" in row.reason
