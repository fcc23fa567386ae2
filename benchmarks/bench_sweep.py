"""Sweep engine benchmark: per-trial overhead with a trivial objective, and the 2-worker speed-up on a real one.

Overhead: one worker runs N1 and then N2 trials of the closed-form `trivial` evaluator on a fresh journal;
(T(N2) - T(N1)) / (N2 - N1) cancels the fixed start-up. Measured twice: trials in the isolated evaluation
process (the default: engine + storage + bookkeeping + the process round trip), and with `isolation: inline`
(engine + storage + bookkeeping only). Baseline beside it: bare Optuna `study.optimize` on Optuna's own journal
backend and on in-memory storage, same objective. Speed-up: a 48-point grid of `edgeq quantize` + digital cost
on the digits CNN (a real objective, about 1-2.5 s per trial) with 1 and with 2 worker processes, no cache
shared between runs; the machine's load average is printed beside it (this machine is shared).

    .venv/bin/python benchmarks/bench_sweep.py [--repeats 3]

Last line: JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import yaml

from edgeq.examples import example_path
from edgeq.sweep import load_spec, open_study, prepare, run_sweep, run_worker, storage_url_for

REAL_SWEEP_POINTS = 48  # 4 weight x 2 activation formats x 2 granularities x 3 calibration methods


def _spec(folder: Path, name: str, **fields) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "run_dir": f"runs/{name}", **fields}, sort_keys=False))
    return path


def edgeq_overhead_ms(folder: Path, n1: int, n2: int, isolation: str) -> tuple[float, float]:
    """Return edgeq's per-trial overhead with the journal as (wall ms, CPU ms), by difference of two run lengths.

    CPU time counts this process and its evaluation child (joined when the worker ends), so it shows the engine's
    own cost even when other jobs on a shared machine stretch the wall time.
    """
    wall, cpu = {}, {}
    for n in (n1, n2):
        path = _spec(folder, f"overhead{n}{isolation}", evaluator="trivial", sampler="random", seed=0,
                     isolation=isolation,
                     space={"x0": {"float": [0.0, 1.0]}, "x1": {"float": [0.0, 1.0]}, "m": ["a", "b"]},
                     objectives=[{"f1": "min"}, {"f2": "min"}], budget={"trials": n})
        spec = load_spec(path)
        url = storage_url_for(spec, None)
        prepare(spec, url, resume=False)
        c0, w0 = _cpu_seconds(), time.perf_counter()
        stats = run_worker(spec, url, index=0)
        wall[n], cpu[n] = time.perf_counter() - w0, _cpu_seconds() - c0
        assert stats.completed == n, stats
    return 1000.0 * (wall[n2] - wall[n1]) / (n2 - n1), 1000.0 * (cpu[n2] - cpu[n1]) / (n2 - n1)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def optuna_overhead_ms(folder: Path, n: int, journal: bool) -> float:
    """Return bare Optuna's time per trial (ms) for the same closed-form objective, journal or in-memory."""
    import math

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if journal:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage = JournalStorage(JournalFileBackend(str(folder / f"bare{time.perf_counter_ns()}.journal")))
    else:
        storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, directions=["minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        x0, x1 = trial.suggest_float("x0", 0, 1), trial.suggest_float("x1", 0, 1)
        trial.suggest_categorical("m", ["a", "b"])
        g = 1 + 9 * x1
        return x0, g * (1 - math.sqrt(x0 / g))

    start = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return 1000.0 * (time.perf_counter() - start) / n


def real_sweep_seconds(folder: Path, workers: int) -> tuple[float, float, float]:
    """Return (wall s, busy span s, concurrency) of a digits CNN `edgeq quantize` + cost sweep (48 grid points).

    The busy span runs from the first trial's start to the last trial's end (worker start-up excluded);
    concurrency is the summed trial durations over that span: about N when N workers keep trials running side
    by side, whatever other jobs on the machine do to each trial's duration.
    """
    path = _spec(folder, f"real{workers}", model=str(example_path("digits_cnn.onnx")),
                 data=str(example_path("digits_eval.npz")), calib=str(example_path("digits_calib.npz")),
                 evaluator="quantize", sampler="grid",
                 space={"weights": ["int8", "int4", "fp8_e4m3", "fp8_e5m2"], "acts": ["int8", "fp8_e4m3"],
                        "granularity": ["channel", "tensor"], "calib_method": ["minmax", "mse", "percentile:99.99"]},
                 objectives=[{"accuracy": "max"}, {"energy_pj": "min"}])
    spec = load_spec(path)
    start = time.perf_counter()
    summary = run_sweep(spec, workers=workers, progress=False)
    seconds = time.perf_counter() - start
    assert summary.completed == REAL_SWEEP_POINTS, summary
    trials = open_study(spec, None).get_trials(deepcopy=False)
    span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    busy = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials)
    return seconds, span, busy / span


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print rows and the JSON line; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overhead-trials", type=int, default=400)
    args = parser.parse_args(argv)
    n1, n2 = 50, 50 + args.overhead_trials
    edgeq_ms, edgeq_cpu, inline_ms, inline_cpu, bare_journal_ms, bare_memory_ms, one, two, span1, span2 = (
        [] for _ in range(10))
    concurrency: dict[int, list[float]] = {1: [], 2: []}
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for wall, cpu, isolation in ((edgeq_ms, edgeq_cpu, "process"), (inline_ms, inline_cpu, "inline")):
                w, c = edgeq_overhead_ms(folder, n1, n2, isolation)
                wall.append(w)
                cpu.append(c)
            bare_journal_ms.append(optuna_overhead_ms(folder, args.overhead_trials, journal=True))
            bare_memory_ms.append(optuna_overhead_ms(folder, args.overhead_trials, journal=False))
            for workers, wall, span in ((1, one, span1), (2, two, span2)):
                w, b, c = real_sweep_seconds(folder, workers)
                wall.append(w)
                span.append(b)
                concurrency[workers].append(c)
        print(f"repeat {r + 1}: edgeq journal {edgeq_ms[-1]:.2f} ms/trial (CPU {edgeq_cpu[-1]:.2f}; inline "
              f"{inline_ms[-1]:.2f}, CPU {inline_cpu[-1]:.2f}), bare optuna journal "
              f"{bare_journal_ms[-1]:.2f}, in-memory {bare_memory_ms[-1]:.2f}; digits quantize sweep 1 worker "
              f"{one[-1]:.1f} s (busy {span1[-1]:.1f} s), 2 workers {two[-1]:.1f} s (busy {span2[-1]:.1f} s, "
              f"concurrency {concurrency[2][-1]:.2f}); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
    med = statistics.median
    result = {
        "bench": "sweep",
        "overhead_ms_per_trial_journal": round(med(edgeq_ms), 3),
        "overhead_cpu_ms_per_trial_journal": round(med(edgeq_cpu), 3),
        "overhead_ms_per_trial_journal_inline": round(med(inline_ms), 3),
        "overhead_cpu_ms_per_trial_journal_inline": round(med(inline_cpu), 3),
        "optuna_bare_journal_ms_per_trial": round(med(bare_journal_ms), 3),
        "optuna_bare_inmemory_ms_per_trial": round(med(bare_memory_ms), 3),
        "overhead_vs_bare_optuna_journal": round(med(edgeq_ms) / med(bare_journal_ms), 2),
        "real_sweep_trials": REAL_SWEEP_POINTS,
        "real_sweep_1_worker_s": round(med(one), 2),
        "real_sweep_2_workers_s": round(med(two), 2),
        "speedup_2_workers": round(med(one) / med(two), 2),
        "speedup_2_workers_busy_span": round(med(span1) / med(span2), 2),
        "concurrency_1_worker": round(med(concurrency[1]), 2),
        "concurrency_2_workers": round(med(concurrency[2]), 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(f"{'per-trial overhead (journal, trivial objective)':52s} {result['overhead_ms_per_trial_journal']:8.2f} ms"
          f"   (target <= 10 ms)")
    print(f"{'  CPU time per trial (worker + evaluation process)':52s} "
          f"{result['overhead_cpu_ms_per_trial_journal']:8.2f} ms")
    print(f"{'  the same with isolation: inline (no process hop)':52s} "
          f"{result['overhead_ms_per_trial_journal_inline']:8.2f} ms (CPU "
          f"{result['overhead_cpu_ms_per_trial_journal_inline']:.2f} ms)")
    print(f"{'bare Optuna optimize, journal / in-memory':52s} {result['optuna_bare_journal_ms_per_trial']:8.2f} ms"
          f" / {result['optuna_bare_inmemory_ms_per_trial']:.2f} ms")
    print(f"{'2-worker speed-up, digits CNN quantize sweep (wall)':52s} {result['speedup_2_workers']:8.2f} x"
          f"    (goal >= 1.7x)")
    print(f"{'2-worker speed-up, same, first start to last end':52s} {result['speedup_2_workers_busy_span']:8.2f} x")
    print(f"{'trials running side by side, 1 / 2 workers':52s} {result['concurrency_1_worker']:8.2f} / "
          f"{result['concurrency_2_workers']:.2f}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
