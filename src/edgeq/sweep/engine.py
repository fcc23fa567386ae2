"""Running a sweep on this machine: create or resume the study, start N worker processes, show progress.

`edgeq sweep run` is this module; `edgeq sweep worker` (one `run_worker` loop) is what it starts N times, and what
users start by hand (ssh, Slurm, Kubernetes) on other machines against the same --storage.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..errors import UserError
from .recovery import recover_dead_trials, requeue, requeue_interrupted
from .space import space_size
from .spec import SweepSpec
from .storage import default_storage_url, fail_stale_trials, has_heartbeat, open_storage
from .study import create_sweep_study, load_sweep_study
from .worker import used_trials

POLL_S = 0.5
STOP_GRACE_S = 2.0


@dataclass(frozen=True)
class RunSummary:
    """How a `run` ended."""

    storage_url: str
    completed: int
    failed: int
    seconds: float
    worker_exit_codes: tuple[int, ...]
    recovered: tuple[int, ...]
    duplicates: int = 0
    """Trials where the sampler proposed a point already finished (answered from it, not re-evaluated)."""


def storage_url_for(spec: SweepSpec, storage: str | None) -> str:
    """Return the storage URL to use: the given one, or the journal in the run folder (created if needed)."""
    if storage:
        return storage
    try:
        spec.run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the run folder {spec.run_dir} ({err.strerror}); pass --run-dir to put the "
                        "sweep somewhere writable") from None
    return default_storage_url(spec.run_dir)


def prepare(spec: SweepSpec, storage_url: str, resume: bool) -> tuple[optuna.Study, list[int]]:
    """Create or resume the study; on resume fail and re-queue trials of dead workers; return it and those numbers."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage_url, failed_trial_callback=requeue, write=True)
    study = create_sweep_study(spec, storage, resume)
    recovered = []
    if resume:
        if has_heartbeat(storage):
            fail_stale_trials(study)
        recovered = recover_dead_trials(study) + requeue_interrupted(study)
    return study, recovered


def run_sweep(spec: SweepSpec, storage: str | None = None, workers: int = 1, resume: bool = False,
              progress: bool = True) -> RunSummary:
    """Run the sweep with N local worker processes until its budget is spent; return a summary."""
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    url = storage_url_for(spec, storage)
    study, recovered = prepare(spec, url, resume)
    start = time.perf_counter()
    deadline = time.time() + spec.budget.seconds if spec.budget.seconds else None
    procs = [_start_worker(spec, url, i, deadline) for i in range(workers)]
    try:
        _watch(spec, study, procs, progress)
    except KeyboardInterrupt:
        _stop_workers(procs)
        raise
    codes = tuple(p.wait() for p in procs)
    trials = study.get_trials(deepcopy=False)
    duplicates = sum(1 for t in trials if "duplicate_of" in t.user_attrs.get("result", {}))
    completed = sum(1 for t in trials if t.state == TrialState.COMPLETE) - duplicates
    failed = sum(1 for t in trials if t.state == TrialState.FAIL)
    return RunSummary(url, completed, failed, time.perf_counter() - start, codes, tuple(recovered), duplicates)


def _stop_workers(procs: list[subprocess.Popen]) -> None:
    """Stop the workers so each re-queues the trial it holds (then --resume redoes it).

    A terminal's Ctrl-C reaches the whole process group, so the workers usually stop by themselves: give them a
    moment before asking with SIGTERM (which they treat like Ctrl-C), and kill only what ignores both.
    """
    for timeout, action in ((STOP_GRACE_S, subprocess.Popen.terminate), (STOP_GRACE_S * 4, subprocess.Popen.kill)):
        end = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                action(p)
    for p in procs:
        p.wait()


def total_points(spec: SweepSpec, study: optuna.Study) -> int | None:
    """Return how many trials the sweep will finish: the grid size or the trial budget (None if only timed)."""
    if study.user_attrs.get("grid"):
        return space_size(spec.space)
    return spec.budget.trials


def _start_worker(spec: SweepSpec, url: str, index: int, deadline: float | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "edgeq", "sweep", "worker", str(spec.path), "--storage", url,
           "--index", str(index), "--run-dir", str(spec.run_dir), "--quiet"]
    if deadline is not None:
        cmd += ["--deadline", repr(deadline)]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)


def _watch(spec: SweepSpec, study: optuna.Study, procs: list[subprocess.Popen], progress: bool) -> None:
    """Poll the storage until every worker exits, updating a progress bar with ETA and best-so-far."""
    from tqdm import tqdm

    total = total_points(spec, study)
    bar = tqdm(total=total, initial=_finished(study.get_trials(deepcopy=False)), unit="trial", desc=spec.name,
               disable=not progress, dynamic_ncols=True, file=sys.stderr)
    try:
        while True:
            alive = any(p.poll() is None for p in procs)
            trials = study.get_trials(deepcopy=False)
            bar.update(_finished(trials) - bar.n)
            bar.set_postfix_str(_best_so_far(spec, trials), refresh=False)
            bar.refresh()
            if not alive:
                break
            time.sleep(POLL_S)
    finally:
        bar.close()


def _finished(trials) -> int:
    return used_trials(trials) - sum(1 for t in trials if t.state == TrialState.RUNNING)


def _best_so_far(spec: SweepSpec, trials) -> str:
    """Return the best value of each objective among feasible trials (those meeting every constraint)."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE and _feasible(spec, t)]
    failed = sum(1 for t in trials if t.state == TrialState.FAIL)
    parts = []
    for i, o in enumerate(spec.objectives[:3]):
        vals = [t.values[i] for t in complete]
        if vals:
            best = max(vals) if o.direction == "maximize" else min(vals)
            parts.append(f"{o.metric}={best:.4g}")
    if failed:
        parts.append(f"failed={failed}")
    return "best " + " ".join(parts) if parts else "no feasible result yet"


def _feasible(spec: SweepSpec, trial) -> bool:
    metrics = trial.user_attrs.get("result", {}).get("metrics", {})
    return all(c.metric in metrics and c.violation(metrics) <= 0 for c in spec.constraints)


def open_study(spec: SweepSpec, storage: str | None) -> optuna.Study:
    """Return the existing study for status/report (no worker sampler needed)."""
    url = storage or default_storage_url(spec.run_dir)
    if not storage and not Path(url[len("journal:"):]).exists():
        raise UserError(f"no sweep found at {spec.run_dir}; run `edgeq sweep run {spec.path}` first "
                        "(or pass the --run-dir or --storage it used)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return load_sweep_study(spec, open_storage(url, write=False), spec.seed)


__all__ = ["RunSummary", "run_sweep", "prepare", "open_study", "total_points", "storage_url_for"]
