"""The gate speaks edgeq's JSON rule and units: strict JSON (inf as "inf"), fractions for accuracies, --json on
stdout, version-1 files converted from percent, and no NaN ever in a baseline."""

from __future__ import annotations

import json

import pytest

from edgeq.cli import main
from edgeq.errors import UserError
from edgeq.gate import load_baseline, load_config
from edgeq.gate.baseline import Baseline, CaseRecord, MetricRecord

from gate_helpers import copy_examples, write_config


def _strict(text: str):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def mlp_case(tmp_path):
    copy_examples(tmp_path, "digits_mlp.onnx", "digits_eval.npz")
    return write_config(tmp_path, [{"name": "mlp", "command": "evaluate", "model": "digits_mlp.onnx",
                                    "eval": "digits_eval.npz", "options": {"weights": "int8"}}])


def test_json_prints_one_strict_document_with_fractions(mlp_case, capsys):
    assert main(["gate", "update", str(mlp_case)]) == 0
    baseline = _strict((mlp_case.parent / "gate.baseline.json").read_text())
    acc = baseline["cases"]["mlp"]["metrics"]["accuracy"]
    assert acc["unit"] == "fraction" and 0.9 < acc["value"] <= 1.0
    capsys.readouterr()
    assert main(["gate", "run", str(mlp_case), "--json", "--json-file", str(mlp_case.parent / "r.json")]) == 0
    out = capsys.readouterr().out
    result = _strict(out)  # stdout is the JSON document alone (progress went to stderr)
    assert result["verdict"] == "PASSED" and result["exit_code"] == 0
    assert _strict((mlp_case.parent / "r.json").read_text()) == result


def test_infinity_is_written_as_a_string_and_read_back(tmp_path):
    record = MetricRecord(value=float("inf"), n=1, spread=0.0, seeds=(0,), better="higher", unit="dB")
    case = CaseRecord("evaluate", {}, None, None, None, None, (0,), {"sqnr_db": record})
    Baseline({}, {"c": case}).write(tmp_path / "b.json")
    text = (tmp_path / "b.json").read_text()
    assert _strict(text)["cases"]["c"]["metrics"]["sqnr_db"]["value"] == "inf"
    assert load_baseline(tmp_path / "b.json").cases["c"].metrics["sqnr_db"].value == float("inf")


def test_a_nan_baseline_is_never_written(tmp_path):
    record = MetricRecord(value=float("nan"), n=1, spread=0.0, seeds=(0,), better="higher", unit="fraction")
    case = CaseRecord("python", {}, None, None, None, None, (0,), {"score": record})
    with pytest.raises(UserError, match="NaN would pass any value"):
        Baseline({}, {"c": case}).write(tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()


def test_version_1_files_are_read_in_fractions(tmp_path):
    metric = {"better": "higher", "n": 2, "seeds": [0, 1], "spread": 0.5, "unit": "%", "value": 97.5}
    (tmp_path / "old.json").write_text(json.dumps({"schema": "edgeq-gate-baseline", "schema_version": 1,
                                                   "environment": {}, "cases": {"c": {
                                                       "command": "evaluate", "metrics": {"accuracy": metric}}}}))
    record = load_baseline(tmp_path / "old.json").cases["c"].metrics["accuracy"]
    assert (record.value, record.spread, record.unit) == (0.975, 0.005, "fraction")
    config = write_config(tmp_path, [{"name": "c", "command": "python", "options": {"function": "x:y"},
                                      "tolerances": {"accuracy": {"abs": 0.5, "min": 98.0, "k_se": 2.0}}}],
                          version=1)
    tolerance = load_config(config).cases[0].tolerances["accuracy"]
    assert (tolerance.abs, tolerance.min, tolerance.k_se) == (0.005, 0.98, 2.0)
