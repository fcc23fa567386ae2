"""Creating and loading the Optuna study of a sweep: directions, sampler choice, the grid queue, spec checks."""

from __future__ import annotations

import hashlib
import warnings

import optuna

from ..errors import UserError
from .evaluators import EvalTask
from .space import grid_points, space_size
from .spec import SweepSpec

TPE_MAX_TRIALS = 1000  # beyond this NSGA-II's cost per trial stays flat while TPE's grows


def eval_task(spec: SweepSpec) -> EvalTask:
    """Return the picklable task an evaluation process needs."""
    return EvalTask(
        evaluator=spec.evaluator, models=tuple(str(m) for m in spec.models),
        data=str(spec.data) if spec.data else None, calib=str(spec.calib) if spec.calib else None,
        options=dict(spec.evaluator_options), base_dir=str(spec.path.parent),
    )


def sampler_kind(spec: SweepSpec) -> str:
    """Return the sampler a spec gets: its own choice, or for auto grid/tpe/nsga2 by space size and budget."""
    if spec.sampler != "auto":
        return spec.sampler
    size = space_size(spec.space)
    if size is not None and (spec.budget.trials is None or size <= spec.budget.trials):
        return "grid"
    if spec.budget.trials is not None and spec.budget.trials > TPE_MAX_TRIALS:
        return "nsga2"
    return "tpe"


def make_sampler(spec: SweepSpec, seed: int) -> optuna.samplers.BaseSampler:
    """Return the Optuna sampler for this worker (constraints feed TPE and NSGA-II; grid points come queued)."""
    kind = sampler_kind(spec)
    constraints = _constraints_func(spec) if spec.constraints else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings for constraints/constant_liar
        if kind == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True,
                                              constraints_func=constraints, n_startup_trials=10)
        if kind == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)
    return optuna.samplers.RandomSampler(seed=seed)


def spec_signature(spec: SweepSpec) -> str:
    """Return a hash of what defines the study's points and objectives (a changed one cannot resume)."""
    text = repr((spec.evaluator, spec.space, [(o.metric, o.direction) for o in spec.objectives]))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def create_sweep_study(spec: SweepSpec, storage, resume: bool) -> optuna.Study:
    """Create the study (queueing every grid point), or with resume load it after checking the spec matches."""
    summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    exists = spec.name in {s.study_name for s in summaries}
    if exists and not resume:
        raise UserError(f"study {spec.name!r} already exists in this storage; pass --resume to continue it, "
                        "or change name: in the spec")
    if exists:
        return load_sweep_study(spec, storage, spec.seed)
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, directions=spec.directions,
                                    sampler=make_sampler(spec, spec.seed))
    except optuna.exceptions.DuplicatedStudyError:  # another process created it a moment ago
        if not resume:
            raise UserError(f"study {spec.name!r} already exists in this storage; pass --resume to continue it") \
                from None
        return load_sweep_study(spec, storage, spec.seed)
    study.set_user_attr("signature", spec_signature(spec))
    study.set_user_attr("metrics", [o.metric for o in spec.objectives])
    grid = sampler_kind(spec) == "grid"
    if grid:
        for point in grid_points(spec.space):
            study.enqueue_trial(point)
    # Set last: workers that find "grid" set know the whole grid is queued.
    study.set_user_attr("grid", grid)
    return study


def load_sweep_study(spec: SweepSpec, storage, worker_seed: int) -> optuna.Study:
    """Return the existing study of spec with this worker's sampler; raise UserError if missing or changed."""
    try:
        study = optuna.load_study(study_name=spec.name, storage=storage, sampler=make_sampler(spec, worker_seed))
    except KeyError:
        raise UserError(f"no study {spec.name!r} in this storage; start it with `edgeq sweep run SPEC` "
                        "(with the same --storage) before adding workers") from None
    if study.user_attrs.get("signature") not in (None, spec_signature(spec)):
        raise UserError(f"the spec's space, objectives or evaluator changed since study {spec.name!r} was created; "
                        "change name: to start a new study (finished points are reused from the cache)")
    if "grid" not in study.user_attrs:
        raise UserError(f"study {spec.name!r} is still being created; retry in a moment")
    return study


def _constraints_func(spec: SweepSpec):
    constraints = spec.constraints

    def violations(trial: optuna.trial.FrozenTrial) -> list[float]:
        metrics = trial.user_attrs.get("result", {}).get("metrics", {})
        return [c.violation(metrics) if c.metric in metrics else 1.0 for c in constraints]

    return violations
