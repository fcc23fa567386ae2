"""Sweep spec validation: good specs parse, each bad key gets one clear line naming it; grid enumeration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgeq.errors import UserError
from edgeq.sweep import load_spec, parse_spec
from edgeq.sweep.space import grid_points, space_size
from edgeq.sweep.study import sampler_kind

from sweep_helpers import EXAMPLES

BASE = {
    "name": "t", "model": str(EXAMPLES / "digits_cnn.onnx"), "data": str(EXAMPLES / "digits_eval.npz"),
    "evaluator": "hardware",
    "space": {"target": ["digital", "analog"], "weights": {"choices": ["int8", "int4"], "when": {"target": "digital"}},
              "adc_bits": {"int": [3, 8], "when": {"target": "analog"}}, "noise": {"float": [0.5, 2.0], "log": True}},
    "objectives": [{"accuracy": "max"}, {"energy_pj": "min"}],
    "constraints": ["accuracy_drop_pp <= 1"],
    "budget": {"trials": 50, "time": "10m"},
}


def _parse(tmp_path: Path, **changes):
    raw = {**BASE, **changes}
    raw = {k: v for k, v in raw.items() if v is not None}
    return parse_spec(raw, tmp_path / "s.yaml")


def test_good_spec_parses_with_conditions_and_units(tmp_path):
    spec = _parse(tmp_path)
    assert [p.name for p in spec.space] == ["target", "weights", "adc_bits", "noise"]
    assert spec.param("adc_bits").when == (("target", ("analog",)),)
    assert spec.param("noise").log and spec.param("noise").kind == "float"
    assert spec.directions == ["maximize", "minimize"]
    assert str(spec.constraints[0]) == "accuracy_drop_pp <= 1"
    assert spec.budget.trials == 50 and spec.budget.seconds == 600
    assert spec.run_dir == (tmp_path / "runs" / "t").resolve()  # default: runs/<name> next to the spec
    assert _parse(tmp_path, run_dir="out").run_dir == (tmp_path / "out").resolve()  # run_dir: relative to the spec
    assert sampler_kind(spec) == "tpe"  # continuous noise: no grid


@pytest.mark.parametrize("changes, key", [
    ({"space": {"a": {"int": [3]}}}, "space.a.int"),
    ({"space": {"a": {"int": [5, 3]}}}, "space.a.int"),
    ({"space": {"a": {"choices": []}}}, "space.a.choices"),
    ({"space": {"a": {"choices": [1], "bogus": 2}}}, "space.a.bogus"),
    ({"space": {"a": [1, 2], "b": {"choices": [1], "when": {"c": 1}}}}, "space.b.when.c"),
    ({"space": {"a": [1, 2], "b": {"choices": [1], "when": {"a": 3}}}}, "space.b.when.a"),
    ({"space": {"a": {"float": [0.0, 1.0], "log": True}}}, "space.a.log"),
    ({"objectives": [{"accuracy": "up"}]}, "objectives[0].accuracy"),
    ({"objectives": []}, "objectives"),
    ({"constraints": ["accuracy == 1"]}, "constraints[0]"),
    ({"budget": {"trials": 0}}, "budget.trials"),
    ({"budget": {"time": "soon"}}, "budget.time"),
    ({"budget": {"runs": 3}}, "budget.runs"),
    ({"model": "missing.onnx"}, "model"),
    ({"sampler": "bayes"}, "sampler"),
    ({"trial_timeout": -1}, "trial_timeout"),
    ({"colour": "x"}, "colour"),
    ({"objectives": [{"accuracy": "max"}, {"energy": "min"}]}, "objectives[1].energy"),
    ({"constraints": ["drop <= 1"]}, "constraints[0]"),
    ({"evaluator": "magic"}, "evaluator"),
    ({"budget": None, "space": {"a": {"float": [0.0, 1.0]}}}, "budget"),
])
def test_bad_spec_names_the_key_in_one_line(tmp_path, changes, key):
    with pytest.raises(UserError) as err:
        _parse(tmp_path, **changes)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"s.yaml: {key}: "), message


def test_load_spec_reports_yaml_syntax_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("space: [unclosed\n")
    with pytest.raises(UserError, match="bad.yaml: not valid YAML"):
        load_spec(bad)


def test_toml_spec_equals_yaml_spec(tmp_path):
    raw = {"name": "t", "evaluator": "trivial", "space": {"x": {"int": [0, 4]}, "m": {"choices": ["a", "b"]}},
           "objectives": [{"f1": "min"}, {"f2": "min"}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (tmp_path / "s.toml").write_text(
        'name = "t"\nevaluator = "trivial"\nobjectives = [{f1 = "min"}, {f2 = "min"}]\n'
        '[space]\nx = {int = [0, 4]}\nm = {choices = ["a", "b"]}\n')
    a, b = load_spec(tmp_path / "s.yaml"), load_spec(tmp_path / "s.toml")
    assert a.space == b.space and a.objectives == b.objectives


def test_grid_enumerates_conditional_parameters_only_where_active(tmp_path):
    spec = _parse(tmp_path, space={"target": ["digital", "analog"],
                                   "weights": {"choices": ["int8", "int4", "fp8_e4m3"], "when": {"target": "digital"}},
                                   "adc_bits": {"int": [3, 8], "when": {"target": "analog"}},
                                   "tile": {"choices": [64, 128], "when": {"target": "analog"}}})
    points = list(grid_points(spec.space))
    assert len(points) == 3 + 6 * 2 == space_size(spec.space)
    assert all(set(p) == {"target", "weights"} for p in points if p["target"] == "digital")
    assert all(set(p) == {"target", "adc_bits", "tile"} for p in points if p["target"] == "analog")
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)
    assert sampler_kind(spec) == "grid"  # 15 points <= budget of 50


def test_multiple_models_become_a_model_parameter(tmp_path):
    spec = _parse(tmp_path, model=None, models=[str(EXAMPLES / "digits_mlp.onnx"), str(EXAMPLES / "digits_cnn.onnx")])
    assert spec.space[0].name == "model" and spec.space[0].choices == ("digits_mlp", "digits_cnn")
