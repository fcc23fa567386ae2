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
    """Enqueue trial's point again (the fixed grid point if it had one), unless it has used all its attempts."""
    attempt = int(trial.user_attrs.get("attempt", 1))
    if attempt >= MAX_ATTEMPTS:
        return
    params = trial.system_attrs.get("fixed_params") or trial.params
    study.enqueue_trial(dict(params), user_attrs={"retry_of": trial.number, "attempt": attempt + 1})


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
