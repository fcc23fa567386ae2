"""Finding trials whose worker died, failing them and putting their point back in the queue.

The journal has no heartbeats, so each trial records who runs it (host, pid, process start time); a RUNNING trial
whose process is gone from this host is dead. RDB storages also get Optuna heartbeats, which catch workers on
other machines; their callback re-queues the same way. A point is re-queued at most `MAX_ATTEMPTS` times in all.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone

import optuna
from optuna.trial import FrozenTrial, TrialState

MAX_ATTEMPTS = 3
ORPHAN_AGE_S = 60.0  # a RUNNING trial that never recorded its worker is dead after this long


def worker_identity() -> dict:
    """Return this process's host, pid and start token (so a recycled pid is not mistaken for the worker)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_token(os.getpid())}


def is_dead(trial: FrozenTrial, host: str | None = None) -> bool:
    """Return True if trial is RUNNING and its worker, on this host, no longer exists."""
    if trial.state != TrialState.RUNNING:
        return False
    who = trial.user_attrs.get("worker")
    if who is None:
        started = trial.datetime_start
        if started is None:
            return False
        return (datetime.now(timezone.utc) - started.astimezone(timezone.utc)).total_seconds() > ORPHAN_AGE_S
    if who.get("host") != (host or socket.gethostname()):
        return False  # another machine's worker: only RDB heartbeats can judge it
    return not _alive(who["pid"], who.get("start"))


def recover_dead_trials(study: optuna.Study) -> list[int]:
    """Fail every RUNNING trial of a dead local worker, re-queue its point, and return the failed trial numbers."""
    storage = study._storage
    failed = []
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_dead(trial, host):
            continue
        who = trial.user_attrs.get("worker", {})
        try:
            storage.set_trial_user_attr(trial._trial_id, "error",
                                        f"worker died: pid {who.get('pid', '?')} on {who.get('host', '?')} is gone")
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker recovered it first
        requeue(study, storage.get_trial(trial._trial_id))
        failed.append(trial.number)
    return failed


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue trial's point again (the fixed grid point if it had one), unless it has used all its attempts.

    An interrupted trial (Ctrl-C, SIGTERM) does not use an attempt: the point itself did nothing wrong.
    """
    attempt = int(trial.user_attrs.get("attempt", 1))
    interrupted = _is_interrupted(trial)
    if attempt >= MAX_ATTEMPTS and not interrupted:
        return
    params = trial.system_attrs.get("fixed_params") or trial.params
    study.enqueue_trial(dict(params), user_attrs={"retry_of": trial.number,
                                                  "attempt": attempt if interrupted else attempt + 1})


INTERRUPTED = "interrupted: the worker was stopped; the point is re-queued"


def release_interrupted(study: optuna.Study, trial_id: int) -> None:
    """Fail the trial a stopped worker held (unless it already finished) and re-queue its point."""
    storage = study._storage
    try:
        if storage.get_trial(trial_id).state.is_finished():
            return
        storage.set_trial_user_attr(trial_id, "error", INTERRUPTED)
        if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
            return
    except optuna.exceptions.UpdateFinishedTrialError:
        return
    requeue(study, storage.get_trial(trial_id))


def requeue_interrupted(study: optuna.Study) -> list[int]:
    """Re-queue the points of interrupted trials that were failed but never re-queued (a stop between the two
    writes, or journals written before the re-queue was made safe); return those trial numbers."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    lost = [t for t in trials if t.state == TrialState.FAIL and _is_interrupted(t) and t.number not in retried]
    for t in lost:
        requeue(study, t)
    return [t.number for t in lost]


def _is_interrupted(trial: FrozenTrial) -> bool:
    return str(trial.user_attrs.get("error", "")).startswith("interrupted")


def _start_token(pid: int) -> int | None:
    """Return the process start time in clock ticks (Linux /proc), or None where unavailable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int, start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start is None:
        return True
    token = _start_token(pid)
    if token is not None and token != start:
        return False
    return _state(pid) != "Z"


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rindex(b")") + 2:].split()[0].decode()
    except (OSError, ValueError, IndexError):
        return "?"
