"""A torn journal tail (a kill during an append) is cut off, with a backup, before anything is appended; a journal
can never become unreadable; interrupted trials that were never re-queued are redone by --resume."""

from __future__ import annotations

import json

import pytest
from optuna.trial import TrialState

from edgeq.cli import main
from edgeq.sweep import collect, load_spec, open_study, prepare, storage_url_for
from edgeq.sweep.recovery import INTERRUPTED

from sweep_helpers import write_spec

TORN = b'{"op_code":5,"worker_id":"x","trial_id":3,"sta'


def _finished_sweep(folder, points=4):
    path = write_spec(folder, name="j", evaluator="trivial", isolation="inline",
                      space={"x": {"int": [0, points - 1]}}, objectives=[{"f1": "min"}, {"f2": "min"}])
    assert main(["sweep", "run", str(path), "--quiet", "--no-report"]) == 0
    return path, load_spec(path)


@pytest.mark.parametrize("tail", [TORN, TORN + b"\n"], ids=["no-newline", "garbage-line"])
def test_a_torn_tail_is_cut_with_a_backup_and_the_journal_stays_readable(tmp_path, tail, capsys):
    path, spec = _finished_sweep(tmp_path)
    journal = spec.run_dir / "study.journal"
    clean = journal.read_bytes()
    journal.write_bytes(clean + tail)
    assert main(["sweep", "status", str(path)]) == 0  # readers skip the torn line
    capsys.readouterr()
    assert main(["sweep", "run", str(path), "--resume", "--quiet", "--no-report"]) == 0
    assert "edgeq: warning: journal" in capsys.readouterr().err  # said once, in one line
    backups = list(spec.run_dir.glob("study.journal.torn-*"))
    assert [b.read_bytes() for b in backups] == [tail]
    assert journal.read_bytes().startswith(clean)  # nothing before the tear was touched
    for argv in (["sweep", "status", str(path), "--json"], ["sweep", "report", str(path)],
                 ["sweep", "run", str(path), "--resume", "--quiet", "--no-report"]):
        assert main(argv) == 0, argv
    counts = json.loads(_status(path, capsys))["counts"]
    assert counts["COMPLETE"] == 4 and counts["FAIL"] == 0


def _status(path, capsys) -> str:
    capsys.readouterr()
    assert main(["sweep", "status", str(path), "--json"]) == 0
    return capsys.readouterr().out


def test_a_damaged_line_inside_the_journal_is_one_line_exit_2(tmp_path, capsys):
    path, spec = _finished_sweep(tmp_path)
    journal = spec.run_dir / "study.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:2]) + TORN + lines[2] + b"".join(lines[3:]))  # what the old resume did
    capsys.readouterr()
    assert main(["sweep", "status", str(path)]) == 2
    err = capsys.readouterr().err
    assert "damaged line" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_resume_requeues_interrupted_trials_that_were_never_requeued(tmp_path):
    """A stop between failing a held trial and re-queueing it (or a journal from before the fix) loses the point
    unless --resume re-queues it."""
    path = write_spec(tmp_path, name="r", evaluator="trivial", isolation="inline", space={"x": {"int": [0, 2]}},
                      objectives=[{"f1": "min"}, {"f2": "min"}])
    spec = load_spec(path)
    study, _ = prepare(spec, storage_url_for(spec, None), resume=False)
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))[0]
    storage = study._storage
    storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)
    storage.set_trial_user_attr(waiting._trial_id, "error", INTERRUPTED)
    storage.set_trial_state_values(waiting._trial_id, TrialState.FAIL)  # ... and the re-queue never happened
    assert main(["sweep", "run", str(path), "--resume", "--quiet", "--no-report"]) == 0
    rows = collect(spec, open_study(spec, None)).rows
    assert sorted(r["x"] for r in rows if r["state"] == "COMPLETE") == [0, 1, 2]
    assert sum(1 for r in rows if r["retried"]) == 1
