"""The sweep spec: a YAML/TOML file naming models, data, the search space, objectives, constraints and budget.

Every mistake in a spec raises `ConfigError` with one line naming the offending key, e.g.
``sweep.yaml: space.adc_bits.int: expected [low, high] integers, got [3]``.

The run folder (journal, cache, report) follows one rule, stated the same in `--help` and docs/sweep.md:
`--run-dir` if given, else `run_dir:` in the spec (relative to the spec file), else `runs/<name>` next to the spec
file. It never depends on the current directory, so `status` and `report` find a run from anywhere.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, UserError
from .space import GRID_LIMIT, Param, space_size

SAMPLERS = ("auto", "grid", "tpe", "nsga2", "random")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")
_TOP_KEYS = {
    "name", "model", "models", "data", "calib", "evaluator", "evaluator_options", "space", "objectives",
    "constraints", "budget", "sampler", "seed", "trial_timeout", "run_dir", "cache_dir", "color_by", "isolation",
}


@dataclass(frozen=True)
class Objective:
    """A metric to minimise or maximise."""

    metric: str
    direction: str  # "minimize" | "maximize"


@dataclass(frozen=True)
class Constraint:
    """A feasibility bound on a metric: `metric <= bound` (upper) or `metric >= bound` (lower)."""

    metric: str
    op: str  # "<=" | ">="
    bound: float

    def violation(self, metrics: dict[str, float]) -> float:
        """Return how far the metrics are outside the bound (<= 0 means satisfied), as Optuna expects."""
        value = metrics[self.metric]
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


@dataclass(frozen=True)
class Budget:
    """When to stop: after this many trials, or this many seconds of wall time per run/worker (None = unbounded)."""

    trials: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec; paths are absolute."""

    name: str
    path: Path
    models: tuple[Path, ...]
    data: Path | None
    calib: Path | None
    evaluator: str
    evaluator_options: dict = field(default_factory=dict)
    space: tuple[Param, ...] = ()
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    budget: Budget = Budget()
    sampler: str = "auto"
    seed: int = 0
    trial_timeout: float = 600.0
    run_dir: Path = Path(".")
    cache_dir: Path = Path(".")
    color_by: str | None = None
    isolation: str = "process"  # "process": each worker's trials run in a child process; "inline": in the worker

    @property
    def directions(self) -> list[str]:
        """Return Optuna's direction strings, one per objective."""
        return [o.direction for o in self.objectives]

    def param(self, name: str) -> Param:
        """Return the parameter called name."""
        return next(p for p in self.space if p.name == name)


def load_spec(path: str | Path, run_dir: str | Path | None = None) -> SweepSpec:
    """Return the validated spec in a .yaml/.yml/.toml file; raise UserError naming the first bad key."""
    path = Path(path).resolve()
    if not path.is_file():
        raise UserError(f"sweep spec {path} does not exist; pass a .yaml or .toml file "
                        "(see examples/sweep_digits.yaml)")
    text = path.read_text(encoding="utf-8")
    try:
        raw = _load_toml(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"{path.name}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'} ({first})") from None
    return parse_spec(raw, path, run_dir)


def _load_toml(text: str) -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise UserError("TOML specs need Python 3.11+; write the spec as YAML instead") from None
    return tomllib.loads(text)


def parse_spec(raw: Any, path: Path, run_dir: str | Path | None = None) -> SweepSpec:
    """Return the validated spec from its parsed mapping; paths resolve relative to path's folder."""
    ctx = _Ctx(path.name)
    if not isinstance(raw, dict):
        ctx.fail("", "the spec must be a mapping of keys (name, model, data, space, objectives, budget, ...)")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        ctx.fail(unknown[0], f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    base = path.parent
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        ctx.fail("name", f"expected letters, digits, '.', '-' or '_', got {name!r}")
    models = _models(ctx, raw, base)
    data = _path(ctx, raw, "data", base, required=False)
    calib = _path(ctx, raw, "calib", base, required=False)
    evaluator = raw.get("evaluator", "hardware")
    if not isinstance(evaluator, str):
        ctx.fail("evaluator", f"expected an evaluator name, got {evaluator!r}")
    options = raw.get("evaluator_options", {})
    if not isinstance(options, dict):
        ctx.fail("evaluator_options", "expected a mapping of option -> value")
    space = _space(ctx, raw.get("space"), models)
    objectives = _objectives(ctx, raw.get("objectives"))
    constraints = _constraints(ctx, raw.get("constraints", []))
    budget = _budget(ctx, raw.get("budget"))
    sampler = raw.get("sampler", "auto")
    if sampler not in SAMPLERS:
        ctx.fail("sampler", f"expected one of {', '.join(SAMPLERS)}, got {sampler!r}")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        ctx.fail("seed", f"expected an integer, got {seed!r}")
    timeout = raw.get("trial_timeout", 600)
    if not isinstance(timeout, (int, float, str)) or _seconds(timeout) is None or _seconds(timeout) <= 0:
        ctx.fail("trial_timeout", f"expected seconds (e.g. 120 or '2m') > 0, got {timeout!r}")
    run = resolve_run_dir(raw, base, name, run_dir, ctx)
    cache = (base / raw["cache_dir"]).resolve() if "cache_dir" in raw else run / "cache"
    isolation = raw.get("isolation", "process")
    if isolation not in ("process", "inline"):
        ctx.fail("isolation", f"expected process or inline, got {isolation!r}")
    color_by = raw.get("color_by")
    if color_by is not None and color_by not in {p.name for p in space}:
        ctx.fail("color_by", f"{color_by!r} is not a parameter in space")
    spec = SweepSpec(
        name=name, path=path, models=models, data=data, calib=calib, evaluator=evaluator,
        evaluator_options=options, space=space, objectives=objectives, constraints=constraints, budget=budget,
        sampler=sampler, seed=seed, trial_timeout=float(_seconds(timeout)), run_dir=run, cache_dir=cache,
        color_by=color_by, isolation=isolation,
    )
    _check_metrics(ctx, spec)
    _check_options(ctx, spec)
    size = space_size(space, GRID_LIMIT)
    if sampler == "grid" and size is None:
        ctx.fail("sampler", "grid needs every parameter finite (choices, or int/float with a step)")
    if budget.trials is None and budget.seconds is None and size is None:
        ctx.fail("budget", "a continuous space needs a budget: trials and/or time")
    if size is not None and size > GRID_LIMIT and (sampler == "grid" or budget.trials is None):
        why = "sampler: grid" if sampler == "grid" else "with no budget.trials the space would be swept as a grid"
        ctx.fail("space", f"has more than {GRID_LIMIT:,} points, too many to queue as a grid ({why}); "
                 "set budget: {trials: N} and sampler: auto, tpe or random to sample it")
    return spec


def resolve_run_dir(raw: dict, base: Path, name: str, run_dir: str | Path | None = None, ctx=None) -> Path:
    """Return the run folder: `run_dir` (the --run-dir flag), else the spec's run_dir: relative to the spec's
    folder `base`, else runs/<name> in `base`."""
    if run_dir:
        return Path(run_dir).resolve()
    value = raw.get("run_dir")
    if value is None:
        return (base / "runs" / name).resolve()
    if not isinstance(value, str) or not value:
        (ctx or _Ctx("spec")).fail("run_dir", f"expected a folder path, got {value!r}")
    return (base / value).resolve()


def _check_options(ctx: "_Ctx", spec: SweepSpec) -> None:
    """Fail on an evaluator_options key the evaluator does not read (when it declares its options)."""
    from .evaluators import declared_options

    known = declared_options(spec.evaluator, spec.path.parent)
    if known is None:
        return
    for key in spec.evaluator_options:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            ctx.fail(f"evaluator_options.{key}", f"evaluator {spec.evaluator!r} has no such option; {hint}"
                     f"it reads {', '.join(sorted(known))}")


def _check_metrics(ctx: "_Ctx", spec: SweepSpec) -> None:
    """Fail on an objective or constraint metric the evaluator does not report (when it declares its metrics)."""
    from .evaluators import declared_metrics

    try:
        known = declared_metrics(spec.evaluator, spec.path.parent)
    except UserError as err:
        ctx.fail("evaluator", str(err).removeprefix("evaluator: "))
    if known is None:
        return
    for i, o in enumerate(spec.objectives):
        if o.metric not in known:
            ctx.fail(f"objectives[{i}].{o.metric}", f"evaluator {spec.evaluator!r} reports no such metric; "
                     f"it reports {', '.join(known)}")
    for i, c in enumerate(spec.constraints):
        if c.metric not in known:
            ctx.fail(f"constraints[{i}]", f"evaluator {spec.evaluator!r} reports no metric {c.metric!r}; "
                     f"it reports {', '.join(known)}")


class _Ctx:
    def __init__(self, filename: str):
        self.filename = filename

    def fail(self, key: str, message: str):
        where = f"{self.filename}: {key}: " if key else f"{self.filename}: "
        raise ConfigError(where + message)


def _path(ctx: _Ctx, raw: dict, key: str, base: Path, required: bool) -> Path | None:
    value = raw.get(key)
    if value is None:
        if required:
            ctx.fail(key, "missing; name a file")
        return None
    return _existing(ctx, key, value, base)


def _existing(ctx: _Ctx, key: str, value: Any, base: Path) -> Path:
    if not isinstance(value, str):
        ctx.fail(key, f"expected a file path, got {value!r}")
    p = (base / value).resolve()
    if not p.exists():
        ctx.fail(key, f"{p} does not exist (paths are relative to the spec file)")
    return p


def _models(ctx: _Ctx, raw: dict, base: Path) -> tuple[Path, ...]:
    if "model" in raw and "models" in raw:
        ctx.fail("models", "give either model or models, not both")
    if "models" in raw:
        value = raw["models"]
        if not isinstance(value, list) or not value:
            ctx.fail("models", "expected a non-empty list of model files")
        paths = tuple(_existing(ctx, f"models[{i}]", v, base) for i, v in enumerate(value))
        stems = [p.stem for p in paths]
        if len(set(stems)) != len(stems):
            ctx.fail("models", "two models share a file name; the name (without .onnx) identifies each model")
        return paths
    if "model" in raw:
        return (_existing(ctx, "model", raw["model"], base),)
    return ()


def _space(ctx: _Ctx, raw: Any, models: tuple[Path, ...]) -> tuple[Param, ...]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        ctx.fail("space", "expected a mapping of parameter name -> definition")
    params: list[Param] = []
    if len(models) > 1:
        if "model" in raw:
            ctx.fail("space.model", "is set from models; do not define it in space")
        params.append(Param("model", "categorical", choices=tuple(p.stem for p in models)))
    for name, definition in raw.items():
        params.append(_param(ctx, f"space.{name}", str(name), definition, params))
    if not params:
        ctx.fail("space", "is empty; define at least one parameter")
    return tuple(params)


def _param(ctx: _Ctx, key: str, name: str, d: Any, earlier: list[Param]) -> Param:
    if isinstance(d, list):
        d = {"choices": d}
    if not isinstance(d, dict):
        ctx.fail(key, "expected a list of choices or a mapping with choices/int/float")
    kinds = [k for k in ("choices", "int", "float") if k in d]
    if len(kinds) != 1:
        ctx.fail(key, "give exactly one of choices: [...], int: [low, high] or float: [low, high]")
    extra = sorted(set(d) - {"choices", "int", "float", "step", "log", "when"})
    if extra:
        ctx.fail(f"{key}.{extra[0]}", "unknown key; allowed: choices, int, float, step, log, when")
    when = _when(ctx, f"{key}.when", d.get("when", {}), earlier)
    if kinds[0] == "choices":
        choices = d["choices"]
        if not isinstance(choices, list) or not choices:
            ctx.fail(f"{key}.choices", "expected a non-empty list")
        if any(not isinstance(c, (str, int, float, bool)) for c in choices):
            ctx.fail(f"{key}.choices", "choices must be strings, numbers or booleans")
        if len(set(map(repr, choices))) != len(choices):
            ctx.fail(f"{key}.choices", "has duplicates")
        if "step" in d or "log" in d:
            ctx.fail(key, "step/log apply to int or float ranges, not choices")
        return Param(name, "categorical", choices=tuple(choices), when=when)
    kind = kinds[0]
    bounds = d[kind]
    num = int if kind == "int" else (int, float)
    if (not isinstance(bounds, list) or len(bounds) != 2 or any(isinstance(b, bool) or not isinstance(b, num)
                                                               for b in bounds)):
        ctx.fail(f"{key}.{kind}", f"expected [low, high] {'integers' if kind == 'int' else 'numbers'}, got {bounds!r}")
    low, high = bounds
    if low > high:
        ctx.fail(f"{key}.{kind}", f"low {low} is above high {high}")
    log = d.get("log", False)
    if not isinstance(log, bool):
        ctx.fail(f"{key}.log", "expected true or false")
    if log and low <= 0:
        ctx.fail(f"{key}.log", "a log range needs low > 0")
    step = d.get("step", 1 if kind == "int" and not log else None)
    if step is not None and (isinstance(step, bool) or not isinstance(step, num) or step <= 0):
        ctx.fail(f"{key}.step", f"expected a positive {'integer' if kind == 'int' else 'number'}")
    if log and step not in (None, 1) and kind == "int" or log and kind == "float" and step is not None:
        ctx.fail(f"{key}.step", "a log range takes no step")
    if kind == "int" and log:
        step = None
    return Param(name, kind, low=low, high=high, step=step, log=log, when=when)


def _when(ctx: _Ctx, key: str, raw: Any, earlier: list[Param]) -> tuple:
    if not isinstance(raw, dict):
        ctx.fail(key, "expected a mapping of earlier parameter -> value or list of values")
    conditions = []
    for other, allowed in raw.items():
        match = [p for p in earlier if p.name == other]
        if not match:
            ctx.fail(f"{key}.{other}", "names no parameter defined above this one")
        allowed = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        values = match[0].grid_values()
        if values is not None:
            bad = [a for a in allowed if a not in values]
            if bad:
                ctx.fail(f"{key}.{other}", f"{bad[0]!r} is not a value of {other}")
        conditions.append((str(other), allowed))
    return tuple(conditions)


def _objectives(ctx: _Ctx, raw: Any) -> tuple[Objective, ...]:
    if not isinstance(raw, list) or not raw:
        ctx.fail("objectives", "expected a list like [{accuracy: max}, {energy_pj: min}]")
    out = []
    aliases = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}
    for i, item in enumerate(raw):
        if isinstance(item, dict) and set(item) == {"metric", "direction"}:
            metric, direction = item["metric"], item["direction"]
        elif isinstance(item, dict) and len(item) == 1:
            metric, direction = next(iter(item.items()))
        else:
            ctx.fail(f"objectives[{i}]", "expected {metric: max|min} or {metric: NAME, direction: max|min}")
        if direction not in aliases:
            ctx.fail(f"objectives[{i}].{metric}", f"direction must be max or min, got {direction!r}")
        out.append(Objective(str(metric), aliases[direction]))
    names = [o.metric for o in out]
    if len(set(names)) != len(names):
        ctx.fail("objectives", "a metric is listed twice")
    return tuple(out)


def _constraints(ctx: _Ctx, raw: Any) -> tuple[Constraint, ...]:
    if not isinstance(raw, list):
        ctx.fail("constraints", "expected a list like ['accuracy_drop_pp <= 1']")
    out = []
    for i, item in enumerate(raw):
        m = _CONSTRAINT.match(item) if isinstance(item, str) else None
        if m is None:
            ctx.fail(f"constraints[{i}]", f"expected 'metric <= number' or 'metric >= number', got {item!r}")
        try:
            out.append(Constraint(m.group(1), m.group(2), float(m.group(3))))
        except ValueError:
            ctx.fail(f"constraints[{i}]", f"{m.group(3)!r} is not a number")
    return tuple(out)


def _budget(ctx: _Ctx, raw: Any) -> Budget:
    if raw is None:
        return Budget()
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"trials": raw}
    if not isinstance(raw, dict):
        ctx.fail("budget", "expected {trials: N, time: '10m'} (either or both)")
    extra = sorted(set(raw) - {"trials", "time"})
    if extra:
        ctx.fail(f"budget.{extra[0]}", "unknown key; allowed: trials, time")
    trials = raw.get("trials")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials <= 0):
        ctx.fail("budget.trials", f"expected a positive integer, got {trials!r}")
    seconds = None
    if "time" in raw:
        seconds = _seconds(raw["time"])
        if seconds is None or seconds <= 0:
            ctx.fail("budget.time", f"expected seconds or a duration like '90s', '10m', '2h', got {raw['time']!r}")
    return Budget(trials=trials, seconds=seconds)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        return None
    return float(m.group(1)) * {"s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]
