"""Trial isolation: one long-lived evaluation process per worker, restarted after a crash or a timeout.

Keeping the process alive across trials keeps the model loaded and costs microseconds per trial instead of a
process start; a trial that segfaults, runs out of memory or exceeds its timeout kills only that process, and the
trial is recorded as failed with the reason.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any

from .evaluators import EvalTask, build_evaluator


@dataclass(frozen=True)
class Outcome:
    """What one evaluation gave: metrics, or an error message; and how long it took (s)."""

    metrics: dict[str, float] | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        """Return True when the evaluation produced finite metrics."""
        return self.error is None


class EvalProcess:
    """A child process that builds the evaluator once and answers one config per request."""

    def __init__(self, task: EvalTask, startup_timeout: float = 300.0) -> None:
        self.task = task
        self.startup_timeout = startup_timeout
        self._ctx = mp.get_context("spawn")  # fork is unsafe with onnxruntime/numba threads
        self._proc = None
        self._conn = None

    def evaluate(self, config: dict[str, Any], timeout: float) -> Outcome:
        """Return the outcome of evaluating config, killing and restarting the process if it hangs or dies."""
        if self._proc is None or not self._proc.is_alive():
            failure = self._start()
            if failure is not None:
                return failure
        start = time.perf_counter()
        self._conn.send(config)
        if not self._conn.poll(timeout):
            self._kill()
            return Outcome(None, f"timeout: no result after {timeout:g} s (trial_timeout)", time.perf_counter() - start)
        try:
            kind, payload, seconds = self._conn.recv()
        except (EOFError, OSError):
            self._proc.join(5)
            code = self._proc.exitcode
            self._kill()
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return Outcome(None, f"crash: evaluation process died ({how})", time.perf_counter() - start)
        if kind == "error":
            return Outcome(None, payload, seconds)
        bad = [k for k, v in payload.items() if isinstance(v, float) and math.isnan(v)]
        if bad:
            return Outcome(None, f"nan: metric {bad[0]} is NaN", seconds)
        return Outcome(payload, None, seconds)

    def close(self) -> None:
        """Stop the child process."""
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        if self._proc is not None:
            self._proc.join(2)
        self._kill()

    def start(self) -> str | None:
        """Start the evaluation process now; return None, or the error that kept the evaluator from starting."""
        failure = self._start()
        return None if failure is None else failure.error

    def _start(self) -> Outcome | None:
        """Start the child and wait until its evaluator is built (not counted in the trial timeout)."""
        start = time.perf_counter()
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, self.task), daemon=True, name="edgeq-eval")
        self._proc.start()
        child.close()
        if not self._conn.poll(self.startup_timeout):
            self._kill()
            return Outcome(None, f"timeout: the evaluator did not start within {self.startup_timeout:g} s",
                           time.perf_counter() - start)
        try:
            error = self._conn.recv()
        except (EOFError, OSError):
            self._kill()
            return Outcome(None, "crash: the evaluation process died while building the evaluator",
                           time.perf_counter() - start)
        return None if error is None else Outcome(None, error, 0.0)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None


class InlineEvaluation:
    """Evaluate in the worker itself: no process hop, but no timeout and no protection from crashes.

    For microsecond objectives (`isolation: inline` in the spec), where the process round trip would dominate.
    """

    def __init__(self, task: EvalTask) -> None:
        self.task = task
        self._evaluator = None

    def start(self) -> str | None:
        """Build the evaluator; return None, or the error that kept it from building."""
        try:
            self._evaluator = build_evaluator(self.task)
        except Exception as err:
            return f"{type(err).__name__}: {err}"
        return None

    def evaluate(self, config: dict[str, Any], timeout: float) -> Outcome:
        """Return the outcome of evaluating config here (timeout is not enforced inline)."""
        start = time.perf_counter()
        try:
            metrics = {k: float(v) for k, v in self._evaluator.evaluate(config).items()}
        except Exception as err:
            return Outcome(None, f"{type(err).__name__}: {err}", time.perf_counter() - start)
        bad = [k for k, v in metrics.items() if math.isnan(v)]
        if bad:
            return Outcome(None, f"nan: metric {bad[0]} is NaN", time.perf_counter() - start)
        return Outcome(metrics, None, time.perf_counter() - start)

    def close(self) -> None:
        """Nothing to stop."""


def _serve(conn, task: EvalTask) -> None:
    """Child main loop: build the evaluator, say so, evaluate each config received; exit on None or EOF."""
    import signal

    # Ctrl-C reaches the whole process group; the worker decides what happens to the trial and stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_threads(int(task.options.get("threads", 1)))
    evaluator, build_error = None, None
    try:
        evaluator = build_evaluator(task)
    except Exception as err:  # reported for every trial: the spec's evaluator cannot work here
        build_error = f"{type(err).__name__}: {err}"
    conn.send(build_error)
    if build_error is not None:
        conn.close()
        return
    while True:
        try:
            config = conn.recv()
        except (EOFError, OSError):
            return
        if config is None:
            return
        start = time.perf_counter()
        try:
            metrics = {k: float(v) for k, v in evaluator.evaluate(config).items()}
            reply = ("ok", metrics, time.perf_counter() - start)
        except Exception as err:  # any evaluator failure becomes a failed trial, never a dead sweep
            last = traceback.extract_tb(err.__traceback__)[-1:]
            where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
            reply = ("error", f"{type(err).__name__}: {err}{where}", time.perf_counter() - start)
        conn.send(reply)



def _limit_threads(threads: int) -> None:
    """Keep one trial on `threads` cores (default 1), so N workers use N cores instead of fighting over them.

    Numba and BLAS read their thread counts from the environment at import. onnxruntime does not: its sessions
    default to one spinning thread per core, so N workers would each spin on every core. This process exists only
    to evaluate trials, so its sessions are given `threads` threads and no spinning unless the caller set them.
    """
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import onnxruntime as ort
    except ImportError:
        return
    original = ort.InferenceSession.__init__

    def init(self, path_or_bytes, sess_options=None, *args, **kwargs):
        options = sess_options if sess_options is not None else ort.SessionOptions()
        if options.intra_op_num_threads == 0:
            options.intra_op_num_threads = threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if options.inter_op_num_threads == 0:
            options.inter_op_num_threads = 1
        original(self, path_or_bytes, options, *args, **kwargs)

    ort.InferenceSession.__init__ = init
