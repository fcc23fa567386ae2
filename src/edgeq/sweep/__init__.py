"""Hardware design-space sweeps: accuracy vs cost Pareto fronts, resumable, from one laptop to many machines.

A spec file names the model, the data, the space (formats, per-layer precision, digital/analog, ADC bits, ...),
the objectives and constraints; Optuna samples it (grid for small spaces, TPE or NSGA-II for large ones); each
trial runs in an isolated process; results land in a journal file or any database Optuna supports.
"""

from .engine import RunSummary, open_study, prepare, run_sweep, storage_url_for
from .evaluators import EvalTask, Evaluator, evaluator_names, register_evaluator
from .pareto import hypervolume, pareto_mask
from .report import pareto_markdown, write_report
from .results import SweepResults, collect
from .spec import SweepSpec, load_spec, parse_spec
from .worker import WorkerStats, run_worker

__all__ = [
    "EvalTask", "Evaluator", "RunSummary", "SweepResults", "SweepSpec", "WorkerStats", "collect",
    "evaluator_names", "hypervolume", "load_spec", "open_study", "pareto_markdown", "pareto_mask", "parse_spec",
    "prepare", "register_evaluator", "run_sweep", "run_worker", "storage_url_for", "write_report",
]
