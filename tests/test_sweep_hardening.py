"""Sweep details from the hardening issue: the cache follows a python: evaluator's source, the progress bar's best
counts feasible trials only, the run folder is found from any directory, big grids are refused up front."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from optuna.trial import TrialState

from edgeq.cli import main
from edgeq.errors import ConfigError
from edgeq.sweep import load_spec
from edgeq.sweep.engine import _best_so_far
from edgeq.sweep.space import GRID_LIMIT, Param, space_size

from sweep_helpers import write_spec

EVALUATOR = '''
class Eval:
    metrics = ("f1", "f2")
    version = "{version}"

    def __init__(self, task):
        pass

    def evaluate(self, config):
        return {{"f1": float(config["x"]) * {factor}, "f2": 1.0}}
'''


def _plugin_spec(folder, factor: int, version: str = "1"):
    (folder / "ev.py").write_text(EVALUATOR.format(factor=factor, version=version))
    return write_spec(folder, name="p", evaluator="python:ev.py:Eval", isolation="inline",
                      space={"x": {"int": [1, 3]}}, objectives=[{"f1": "min"}, {"f2": "min"}], run_dir="runs/p")


def _f1_values(capsys, path) -> list[float]:
    capsys.readouterr()
    assert main(["sweep", "report", str(path)]) == 0
    import json

    trials = json.loads((path.parent / "runs" / "p" / "report" / "trials.json").read_text())["trials"]
    return sorted(t["metrics"]["f1"] for t in trials if t["state"] == "COMPLETE")


def test_editing_a_python_evaluator_invalidates_its_cached_results(tmp_path, capsys):
    path = _plugin_spec(tmp_path, factor=1)
    assert main(["sweep", "run", str(path), "--quiet", "--no-report"]) == 0
    assert _f1_values(capsys, path) == [1.0, 2.0, 3.0]
    # Same spec, edited evaluator: a new study (new run folder) must not be answered from the shared cache.
    _plugin_spec(tmp_path, factor=10)
    spec_text = path.read_text().replace("runs/p", "runs/q")
    path.write_text(spec_text + "cache_dir: runs/p/cache\n")
    assert main(["sweep", "run", str(path), "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    assert main(["sweep", "report", str(path), "--out-dir", str(tmp_path / "rq")]) == 0
    import json

    trials = json.loads((tmp_path / "rq" / "trials.json").read_text())["trials"]
    assert sorted(t["metrics"]["f1"] for t in trials) == [10.0, 20.0, 30.0]
    assert not any(t["cached"] for t in trials)


def test_progress_best_counts_only_feasible_trials(tmp_path):
    path = write_spec(tmp_path, name="b", evaluator="trivial", space={"x": {"int": [0, 3]}},
                      objectives=[{"f1": "max"}, {"f2": "min"}], constraints=["f1 <= 2"])
    spec = load_spec(path)

    def trial(f1, f2):
        return SimpleNamespace(state=TrialState.COMPLETE, values=[f1, f2],
                               user_attrs={"result": {"metrics": {"f1": f1, "f2": f2}}})

    text = _best_so_far(spec, [trial(3.0, 0.1), trial(2.0, 5.0)])
    assert text == "best f1=2 f2=5"  # the infeasible f1=3 (and its f2=0.1) never shows
    assert _best_so_far(spec, [trial(3.0, 0.1)]) == "no feasible result yet"


def test_status_and_report_find_the_run_from_any_directory(tmp_path, monkeypatch):
    (tmp_path / "specs").mkdir()
    path = write_spec(tmp_path / "specs", name="a", evaluator="trivial", isolation="inline",
                      space={"x": {"int": [0, 1]}}, objectives=[{"f1": "min"}, {"f2": "min"}], run_dir=None)
    path.write_text(path.read_text().replace("run_dir: null\n", ""))
    monkeypatch.chdir(tmp_path / "specs")
    assert main(["sweep", "run", "a.yaml", "--quiet", "--no-report"]) == 0
    assert (tmp_path / "specs" / "runs" / "a" / "study.journal").is_file()  # runs/<name> next to the spec
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["sweep", "status", str(path)]) == 0
    assert main(["sweep", "report", os.path.relpath(path)]) == 0
    assert not any(elsewhere.iterdir())


def test_a_grid_beyond_the_limit_is_counted_lazily_and_needs_a_trial_budget(tmp_path):
    big = (Param("x", "int", low=0, high=10**8, step=1),)
    assert space_size(big) == 10**8 + 1  # counted, not enumerated
    cond = (Param("t", "categorical", choices=("a", "b")),
            Param("x", "int", low=0, high=10**8, step=1, when=(("t", ("a",)),)))
    assert space_size(cond, limit=GRID_LIMIT) == GRID_LIMIT + 1  # counting stops past the limit
    fields = dict(name="g", evaluator="trivial", space={"x": {"int": [0, 10**8]}},
                  objectives=[{"f1": "min"}, {"f2": "min"}])
    with pytest.raises(ConfigError, match="more than 100,000 points"):
        load_spec(write_spec(tmp_path, **fields))
    assert load_spec(write_spec(tmp_path, **fields, budget={"trials": 50})).budget.trials == 50


def test_an_evaluator_option_typo_names_the_close_match(tmp_path):
    path = write_spec(tmp_path, name="o", evaluator="weights", space={"weights": ["int8"]},
                      evaluator_options={"label_key": "y"}, objectives=[{"accuracy": "max"}])
    with pytest.raises(ConfigError, match="did you mean 'labels_key'"):
        load_spec(path)


def test_the_run_folder_rule_reads_the_same_in_help_docs_and_example():
    """One rule, one wording: the --help epilog, docs/sweep.md and the example spec must not drift apart again."""
    import re

    from click.testing import CliRunner

    from edgeq.cli import cli
    from sweep_helpers import EXAMPLES, REPO

    rule = ("Run folder: --run-dir if given, else run_dir: in the spec (relative to the spec file), else "
            "runs/<name> next to the spec file.")

    def flat(text: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"^\s*#", " ", text, flags=re.M).replace("`", ""))

    help_text = CliRunner().invoke(cli, ["sweep", "run", "--help"]).output
    for where, text in (("--help", help_text), ("docs/sweep.md", (REPO / "docs" / "sweep.md").read_text()),
                        ("example spec", (EXAMPLES / "sweep_digits.yaml").read_text())):
        assert rule in flat(text).replace("next to the spec file;", "next to the spec file."), where
