"""A small grid sweep on the digits models: its Pareto set equals one computed independently here."""

from __future__ import annotations

import csv
import itertools
import json

import pytest
import yaml

from edgeq.sweep import collect, load_spec, open_study, run_sweep, write_report
from edgeq.sweep.evaluators import EvalTask
from edgeq.sweep.evaluators.onnx_weights import WeightQuantEvaluator

from sweep_helpers import EXAMPLES, write_spec

FORMATS = ["int8", "int4", "int3", "int2", "fp8_e4m3"]
GRANULARITY = ["per_channel", "per_tensor"]
MODELS = ["digits_mlp", "digits_cnn"]


def _dominates(a, b):
    """a dominates b for (accuracy: max, weight_kib: min)."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


@pytest.fixture(scope="module")
def digits_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    spec_path = write_spec(
        folder, name="digits-grid", models=[str(EXAMPLES / f"{m}.onnx") for m in MODELS],
        data=str(EXAMPLES / "digits_eval.npz"), evaluator="weights",
        space={"weights": FORMATS, "granularity": GRANULARITY},
        objectives=[{"accuracy": "max"}, {"weight_kib": "min"}], constraints=["accuracy_drop_pp <= 5"],
    )
    spec = load_spec(spec_path)
    summary = run_sweep(spec, workers=1, progress=False)
    return spec, summary


def test_grid_sweep_front_matches_independent_pareto(digits_sweep):
    spec, summary = digits_sweep
    assert summary.completed == len(MODELS) * len(FORMATS) * len(GRANULARITY) and summary.failed == 0
    results = collect(spec, open_study(spec, None))

    # Independent evaluation in this process, and a brute-force Pareto set with the constraint applied.
    evaluator = WeightQuantEvaluator(EvalTask("weights", models=tuple(str(EXAMPLES / f"{m}.onnx") for m in MODELS),
                                              data=str(EXAMPLES / "digits_eval.npz")))
    expected = {}
    for model, fmt, gran in itertools.product(MODELS, FORMATS, GRANULARITY):
        m = evaluator.evaluate({"model": model, "weights": fmt, "granularity": gran})
        expected[(model, fmt, gran)] = m
    feasible = {k: (m["accuracy"], m["weight_kib"]) for k, m in expected.items() if m["accuracy_drop_pp"] <= 5}
    front = {k for k, v in feasible.items() if not any(_dominates(o, v) for o in feasible.values())}

    got = {(r["model"], r["weights"], r["granularity"]) for r in results.front}
    assert got == front
    assert 2 <= len(front) < len(feasible) < len(expected)  # the test means something: some points are cut
    for r in results.complete:  # every trial's metrics are the ones computed here, bit for bit
        m = expected[(r["model"], r["weights"], r["granularity"])]
        assert r["metric:accuracy"] == m["accuracy"] and r["metric:weight_kib"] == m["weight_kib"]


def test_report_files_hold_every_trial_and_the_front(digits_sweep, tmp_path):
    spec, _ = digits_sweep
    results = collect(spec, open_study(spec, None))
    files = write_report(spec, results, tmp_path / "report", color_by="weights")
    names = {f.name for f in files.files}
    assert {"trials.json", "trials.csv", "pareto.csv", "pareto.md", "report.html", "accuracy_vs_weight_kib.png",
            "hypervolume.png"} <= names
    rows = list(csv.DictReader(open(tmp_path / "report" / "trials.csv")))
    assert len(rows) == 20 and all(r["state"] == "COMPLETE" for r in rows)
    data = json.loads((tmp_path / "report" / "trials.json").read_text())
    assert len(data["pareto"]) == len(results.front) == sum(r["pareto"] == "True" for r in rows)
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "<script" not in html and "http" not in html
    assert (tmp_path / "report" / "accuracy_vs_weight_kib.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_repeated_sweep_takes_every_point_from_the_cache(digits_sweep, tmp_path):
    spec, _ = digits_sweep
    raw = yaml.safe_load(spec.path.read_text())
    again = load_spec(write_spec(tmp_path, **{**raw, "name": "digits-again", "cache_dir": str(spec.cache_dir)}))
    assert again.run_dir != spec.run_dir  # a new study in a new journal; only the cache is shared
    summary = run_sweep(again, workers=1, progress=False)
    results = collect(again, open_study(again, None))
    assert summary.completed == 20 and all(r["cached"] for r in results.complete)
