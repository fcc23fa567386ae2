"""Crash safety: failing trials, kill -9 of a worker and resume, two workers sharing one journal."""

from __future__ import annotations

import collections
import os
import signal

import pytest

from edgeq.cli import main
from edgeq.sweep import collect, load_spec, open_study, prepare, run_sweep, storage_url_for

from sweep_helpers import evaluation_log, start_worker, wait_for, write_spec

HELPERS = os.path.join(os.path.dirname(__file__), "sweep_helpers.py")


def _spec(folder, name, xs, ys, **options):
    return write_spec(folder, name=name, evaluator=f"python:{HELPERS}:LoggingEvaluator",
                      evaluator_options={"log": str(folder / f"{name}.log"), **options},
                      space={"x": {"int": [0, xs - 1]}, "y": {"int": [0, ys - 1]}},
                      objectives=[{"f1": "min"}, {"f2": "min"}], trial_timeout=2)


def _completed_points(spec):
    rows = collect(spec, open_study(spec, None)).rows
    return [(r["x"], r["y"]) for r in rows if r["state"] == "COMPLETE"], rows


def test_crash_nan_error_and_timeout_become_failed_trials_and_the_sweep_goes_on(tmp_path):
    path = _spec(tmp_path, "faulty", 6, 1, crash_at=1, nan_at=2, raise_at=3, hang_at=4)
    spec = load_spec(path)
    summary = run_sweep(spec, workers=1, progress=False)
    assert summary.worker_exit_codes == (0,)
    done, rows = _completed_points(spec)
    assert sorted(done) == [(0, 0), (5, 0)]
    errors = {r["x"]: r["error"] for r in rows if r["state"] == "FAIL"}
    assert errors[1].startswith("crash: evaluation process died (exit code 3)")
    assert errors[2].startswith("nan: ")
    assert errors[3].startswith("ValueError: cannot evaluate x=3")
    assert errors[4].startswith("timeout: no result after 2 s")
    assert sum(r["retried"] for r in rows) == 0  # a trial's own failure is final, not re-queued


def _kill_mid_sweep(tmp_path, name):
    """Start one worker, kill -9 it after some trials completed, and return (spec, completed-before)."""
    path = _spec(tmp_path, name, 8, 3, sleep_s=0.15)
    spec = load_spec(path)
    prepare(spec, storage_url_for(spec, None), resume=False)
    proc = start_worker(path)
    wait_for(lambda: len(evaluation_log(tmp_path / f"{name}.log")) >= 5, 60, "5 evaluations")
    # Wait until a trial is running again, so the kill lands mid-trial.
    wait_for(lambda: any(r["state"] == "RUNNING" for r in collect(spec, open_study(spec, None)).rows), 10,
             "a running trial")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before, rows = _completed_points(spec)
    values_before = {(r["x"], r["y"]): (r["metric:f1"], r["metric:f2"]) for r in rows if r["state"] == "COMPLETE"}
    assert sum(r["state"] == "RUNNING" for r in rows) == 1  # left behind by the dead worker
    return spec, before, values_before


@pytest.mark.slow
def test_kill_9_worker_then_resume_loses_and_repeats_nothing(tmp_path):
    spec, before, values_before = _kill_mid_sweep(tmp_path, "killed")
    summary = run_sweep(spec, workers=1, resume=True, progress=False)
    assert len(summary.recovered) == 1
    done, rows = _completed_points(spec)
    assert len(done) == len(set(done)) == 24  # every grid point completed exactly once
    after = {(r["x"], r["y"]): (r["metric:f1"], r["metric:f2"]) for r in rows if r["state"] == "COMPLETE"}
    assert all(after[p] == v for p, v in values_before.items())  # completed trials kept, unchanged
    dead = [r for r in rows if r["state"] == "FAIL"]
    assert len(dead) == 1 and dead[0]["error"].startswith("worker died") and dead[0]["retried"]
    # Each point was evaluated once, except the one the kill interrupted, which may have been evaluated twice.
    counts = collections.Counter(tuple(sorted(c.items())) for c in evaluation_log(tmp_path / "killed.log"))
    repeated = [k for k, n in counts.items() if n > 1]
    assert len(counts) == 24 and len(repeated) <= 1
    assert not repeated or dict(repeated[0]) == {"x": dead[0]["x"], "y": dead[0]["y"]}


@pytest.mark.slow
def test_two_workers_share_a_journal_study_without_loss_or_duplication(tmp_path):
    path = _spec(tmp_path, "pair", 10, 4, sleep_s=0.05)
    spec = load_spec(path)
    assert main(["sweep", "run", str(path), "--workers", "2", "--quiet", "--no-report"]) == 0
    done, rows = _completed_points(spec)
    assert len(done) == len(set(done)) == 40 and len(rows) == 40
    workers = collections.Counter(r["worker"] for r in rows)
    assert len(workers) == 2 and min(workers.values()) >= 5  # both did real work
    log = evaluation_log(tmp_path / "pair.log")
    assert len(log) == 40 and len({tuple(sorted(c.items())) for c in log}) == 40


def test_cli_reports_spec_errors_on_one_line(tmp_path, capsys):
    path = write_spec(tmp_path, name="bad", evaluator="trivial", space={"x": {"int": [3]}},
                      objectives=[{"f1": "min"}])
    assert main(["sweep", "run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.yaml: space.x.int: expected [low, high] integers" in err


def test_run_twice_without_resume_refuses_and_status_counts(tmp_path, capsys):
    path = _spec(tmp_path, "again", 3, 1)
    assert main(["sweep", "run", str(path), "--quiet", "--no-report"]) == 0
    assert main(["sweep", "run", str(path), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["sweep", "status", str(path)]) == 0
    assert "again: 3 completed, 0 failed" in capsys.readouterr().out


def test_sampler_repeats_are_answered_from_the_finished_trial_not_re_evaluated(tmp_path):
    path = write_spec(tmp_path, name="repeats", evaluator=f"python:{HELPERS}:LoggingEvaluator",
                      evaluator_options={"log": str(tmp_path / "repeats.log")}, sampler="random", seed=1,
                      space={"x": {"int": [0, 2]}, "y": {"int": [0, 1]}}, objectives=[{"f1": "min"}, {"f2": "min"}],
                      budget={"trials": 6}, isolation="inline")
    spec = load_spec(path)
    summary = run_sweep(spec, workers=1, progress=False)
    rows = collect(spec, open_study(spec, None)).rows
    assert summary.completed == 6 and summary.duplicates >= 1  # 6 points drawn at random: repeats are certain
    assert len(evaluation_log(tmp_path / "repeats.log")) == 6  # each point evaluated once
    by_trial = {r["trial"]: r for r in rows}
    for r in rows:
        if r["duplicate_of"] is not None:
            original = by_trial[r["duplicate_of"]]
            assert (r["x"], r["y"]) == (original["x"], original["y"]) and not r["pareto"] and not r["feasible"]
            assert r["metric:f2"] == original["metric:f2"]


def test_equivalent_per_layer_configs_share_one_cache_key():
    from edgeq.sweep.evaluators.hardware import canonical_layers

    a = canonical_layers({"weights": "int4", "layer.conv1": "int4", "layer.fc2": "int8"})
    b = canonical_layers({"weights": "int4", "layer.conv1": "default", "layer.fc2": "int8"})
    assert a == b == {"weights": "int4", "layer.fc2": "int8"}
