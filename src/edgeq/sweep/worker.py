"""One sweep worker: pop or ask a trial, evaluate it in the isolated process (or take it from the cache), tell.

Any number of workers, on one machine or many, run this loop against the same storage; the storage hands each
queued point to exactly one of them. Every finished trial is written (and fsynced, for the journal) before the
next is taken, so killing a worker loses at most the trial it was running, which the next worker re-queues.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import zlib
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from ..errors import UserError
from .cache import ResultCache, cache_key, restore_floats
from .evaluators import canonicalizer
from .recovery import recover_dead_trials, release_interrupted, requeue, worker_identity
from .runner import EvalProcess, InlineEvaluation, Outcome
from .space import suggest
from .spec import SweepSpec
from .storage import fail_stale_trials, has_heartbeat, open_storage
from .study import eval_task, load_sweep_study

RECOVERY_EVERY_S = 5.0
MAX_DUPLICATES_IN_A_ROW = 200


@dataclass
class WorkerStats:
    """What one worker did."""

    completed: int = 0
    failed: int = 0
    cached: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def run_worker(spec: SweepSpec, storage_url: str, index: int | None = None, deadline: float | None = None,
               max_trials: int | None = None) -> WorkerStats:
    """Run trials until the budget, the grid or the deadline is exhausted; return what this worker did."""
    storage = open_storage(storage_url, failed_trial_callback=requeue, write=True)
    seed_offset = index if index is not None else zlib.crc32(repr(worker_identity()).encode()) % 100_000
    study = load_sweep_study(spec, storage, worker_seed=spec.seed + 1000 * seed_offset)
    task = eval_task(spec)
    fingerprint = task.fingerprint()
    canonical = canonicalizer(spec.evaluator, spec.path.parent)
    cache = ResultCache(spec.cache_dir)
    process = EvalProcess(task) if spec.isolation == "process" else InlineEvaluation(task)
    failure = process.start()
    if failure is not None:
        process.close()
        raise UserError(f"evaluator {spec.evaluator!r} cannot start: {failure}")
    stats = WorkerStats()
    heartbeat = has_heartbeat(storage)
    identity = worker_identity()
    if deadline is None and spec.budget.seconds is not None:
        deadline = time.time() + spec.budget.seconds
    grid = bool(study.user_attrs.get("grid"))
    repeats_in_a_row = 0
    finished = _FinishedPoints()
    start = time.perf_counter()
    last_recovery = 0.0
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main_thread else None
    current = None  # the trial this worker holds, from the moment it is claimed until it is told
    try:
        while max_trials is None or stats.completed + stats.failed < max_trials:
            if deadline is not None and time.time() >= deadline:
                break
            if time.perf_counter() - last_recovery > RECOVERY_EVERY_S:
                if heartbeat:
                    fail_stale_trials(study)
                recover_dead_trials(study)
                last_recovery = time.perf_counter()
            with _DeferSignals(in_main_thread):  # a claimed trial is always known to the handler below
                trial, snapshot = _next_trial(study, spec, grid)
                current = trial
            if trial is None:
                break
            duplicate = _run_trial(study, trial, snapshot, finished, spec, process, cache, fingerprint, canonical,
                                   identity, heartbeat, stats, in_main_thread)
            current = None
            repeats_in_a_row = repeats_in_a_row + 1 if duplicate else 0
            if repeats_in_a_row >= MAX_DUPLICATES_IN_A_ROW:
                stats.errors.append(f"stopped: the sampler proposed {repeats_in_a_row} finished points in a row; "
                                    "the space looks exhausted")
                break
    except KeyboardInterrupt:
        if current is not None:
            with _DeferSignals(in_main_thread):  # a second Ctrl-C or SIGTERM must not cut the re-queue short
                release_interrupted(study, current._trial_id)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        process.close()
    stats.seconds = time.perf_counter() - start
    return stats


def _run_trial(study, trial, snapshot, finished, spec, process, cache, fingerprint, canonical, identity, heartbeat,
               stats, main_thread) -> bool:
    """Run one trial; return True if it repeated a point this study already finished (a sampler duplicate)."""
    config = suggest(trial, spec.space)
    key = cache_key(fingerprint, canonical(config))
    trial.set_user_attr("worker", {**identity, "key": key})
    original = finished.lookup(snapshot, key)
    if original is not None:
        # The sampler proposed a point this study already has: answer it from that trial (no evaluation, no
        # budget used) so the sampler learns, and mark it so reports and budgets skip it.
        result = original.user_attrs["result"]
        trial.set_user_attr("result", {**result, "cached": True, "duplicate_of": original.number})
        study.tell(trial, list(original.values))
        stats.duplicates += 1
        return True
    beat = _Heartbeat(study._storage, trial._trial_id) if heartbeat else None
    try:
        cached = cache.get(key)
        if cached is not None:
            outcome, hit = Outcome(restore_floats(cached), None, 0.0), True
        else:
            outcome, hit = process.evaluate(config, spec.trial_timeout), False
    finally:
        if beat is not None:
            beat.stop()
    values, error = _objective_values(spec, outcome)
    with _DeferSignals(main_thread):  # a result that was computed is recorded whole, even on Ctrl-C
        if error is not None:
            _fail(study, trial, error)
            stats.failed += 1
            stats.errors.append(f"trial {trial.number}: {error}")
            return False
        if not hit:
            cache.put(key, outcome.metrics, config)
        trial.set_user_attr("result", {"metrics": outcome.metrics, "seconds": outcome.seconds, "cached": hit})
        study.tell(trial, values)
    stats.completed += 1
    stats.cached += hit
    return False


class _FinishedPoints:
    """Index of completed, non-duplicate trials by point key, updated incrementally from study snapshots."""

    def __init__(self) -> None:
        self._by_key: dict[str, optuna.trial.FrozenTrial] = {}
        self._first_open = 0  # trials before this number are all finished and indexed

    def lookup(self, trials, key: str):
        """Return the completed trial that evaluated the point `key`, or None."""
        for t in trials[self._first_open:]:
            self._add(t)
        while self._first_open < len(trials) and trials[self._first_open].state.is_finished():
            self._first_open += 1
        return self._by_key.get(key)

    def _add(self, t) -> None:
        key = t.user_attrs.get("worker", {}).get("key")
        if (t.state == TrialState.COMPLETE and key is not None and key not in self._by_key
                and "duplicate_of" not in t.user_attrs.get("result", {})):
            self._by_key[key] = t


def _objective_values(spec: SweepSpec, outcome: Outcome) -> tuple[list[float] | None, str | None]:
    if not outcome.ok:
        return None, outcome.error
    needed = [o.metric for o in spec.objectives] + [c.metric for c in spec.constraints]
    missing = [m for m in needed if m not in outcome.metrics]
    if missing:
        return None, f"missing metric: the evaluator gave no {missing[0]!r} (it gives {', '.join(outcome.metrics)})"
    values = [outcome.metrics[o.metric] for o in spec.objectives]
    if any(math.isnan(v) for v in values):
        return None, "nan: an objective is NaN"
    return values, None


def _fail(study: optuna.Study, trial: optuna.Trial, error: str) -> None:
    trial.set_user_attr("error", error)
    study.tell(trial, state=TrialState.FAIL)


def _next_trial(study: optuna.Study, spec: SweepSpec, grid: bool) -> tuple[optuna.Trial | None, list]:
    """Return a queued trial (a grid point or a retry) if any, else a new sampled one while budget remains; and
    the snapshot of the study's trials it looked at."""
    storage = study._storage
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        if t.state != TrialState.WAITING:
            continue
        try:
            if storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                return optuna.Trial(study, t._trial_id), trials
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    if grid:
        return None, trials
    if spec.budget.trials is not None and used_trials(trials) >= spec.budget.trials:
        return None, trials
    # What study.ask() does after finding the queue empty, without scanning the queue a second time.
    return optuna.Trial(study, storage.create_new_trial(study._study_id)), trials


def used_trials(trials) -> int:
    """Return how many points of the budget are spent: started trials, not counting failures that were retried
    nor repeats of finished points."""
    started = [t for t in trials if t.state != TrialState.WAITING]
    return len(started) - sum(1 for t in started if "retry_of" in t.user_attrs
                              or "duplicate_of" in t.user_attrs.get("result", {}))


class _Heartbeat:
    """Record the trial's heartbeat in a thread while it runs (RDB storages only)."""

    def __init__(self, storage, trial_id: int) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(storage, trial_id), daemon=True)
        self._interval = storage.get_heartbeat_interval()
        storage.record_heartbeat(trial_id)
        self._thread.start()

    def _beat(self, storage, trial_id: int) -> None:
        while not self._stop.wait(self._interval):
            storage.record_heartbeat(trial_id)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


class _DeferSignals:
    """Hold SIGINT/SIGTERM while a few storage writes that belong together run; raise KeyboardInterrupt after.

    Signal masks cannot do this in Python: a blocked signal reaches another thread (the journal's fsync thread),
    and CPython still runs the handler in the main thread at once. Swapping the handlers does work.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.received: int | None = None
        self._previous: dict = {}

    def _record(self, signum, frame) -> None:
        self.received = signum

    def __enter__(self) -> "_DeferSignals":
        if self.enabled:
            self._previous = {s: signal.signal(s, self._record) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, kind, value, tb) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        if self.received is not None and kind is None:
            raise KeyboardInterrupt
