"""Run an experiment into a folder (results.json, curves.png, weights.pt) and evaluate a saved run."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from ..errors import UserError
from ..io import atomic_write_bytes, write_json
from .experiment import ExperimentConfig, Progress, config_from_dict, evaluate_saved, run_experiment
from .plots import curves_png

RESULTS = "results.json"
TIMING = "timing.json"
WEIGHTS = "weights.pt"
FIGURE = "curves.png"


@contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Run the block with `threads` threads in torch, BLAS/OpenMP (NumPy) and Numba, then restore them.

    Small matmuls on a busy machine run many times slower with idle-spinning BLAS threads than with one.
    """
    import numba
    from threadpoolctl import threadpool_limits

    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    before = (torch.get_num_threads(), numba.get_num_threads())
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


def train_to_dir(cfg: ExperimentConfig, out_dir: Path, progress: Progress | None = None, force: bool = False) -> dict:
    """Run the experiment and write results.json, curves.png, weights.pt (the same bytes for the same seed) and
    timing.json (wall times) into out_dir; return the results, timing included. An earlier run in out_dir is kept
    (UserError) unless force."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out-dir {out_dir} is a file; pass a folder")
    if (out_dir / RESULTS).exists() and not force:
        raise UserError(f"{out_dir} already holds a run ({RESULTS}); pass --force to overwrite it or choose another "
                        "--out-dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    results, weights = run_experiment(cfg, progress)
    buf = io.BytesIO()
    torch.save(weights, buf)
    atomic_write_bytes(out_dir / WEIGHTS, buf.getvalue())
    stable = {k: v for k, v in results.items() if k != "timing"}
    atomic_write_bytes(out_dir / FIGURE, curves_png(stable))
    write_json(out_dir / TIMING, results["timing"], indent=1)
    write_json(out_dir / RESULTS, stable, indent=1)
    return results


def eval_dir(run_dir: Path, at_time_s: float, fault_rate: float) -> dict:
    """Return the test accuracy of every saved model on the run's hardware at a hardware time and fault rate."""
    run_dir = Path(run_dir)
    if not (run_dir / RESULTS).is_file() or not (run_dir / WEIGHTS).is_file():
        raise UserError(f"{run_dir} holds no {RESULTS} and {WEIGHTS}; pass the --out-dir folder of `edgeq phyff train`")
    try:
        results = json.loads((run_dir / RESULTS).read_text())
        weights = torch.load(run_dir / WEIGHTS, weights_only=True)
    except (OSError, ValueError, RuntimeError) as err:
        raise UserError(f"cannot read the run in {run_dir} ({err}); train it again") from None
    if at_time_s < 0 or not 0 <= fault_rate < 1:
        raise UserError("--time must be >= 0 and --faults in [0, 1)")
    cfg = config_from_dict(results.get("config", {}))
    return {"run": str(run_dir), "time_s": at_time_s, "fault_rate": fault_rate,
            "accuracy": evaluate_saved(cfg, weights, at_time_s, fault_rate)}
