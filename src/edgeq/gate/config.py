"""The gate config file: which cases to run, where the baseline lives, and the tolerances to judge them by."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from .metrics import CATALOGUE, FRACTION, Better, MetricSpec, Tolerance, resolve_spec

CONFIG_VERSION = 2  # 2: accuracy tolerances are fractions (abs: 0.005); version 1 wrote them in percent (0.5)
_TOP_KEYS = {"version", "baseline", "seeds", "k_se", "tolerances", "metrics", "cases"}
_CASE_KEYS = {"name", "command", "model", "calib", "eval", "options", "seeds", "metrics", "tolerances"}
_TOL_KEYS = {"abs", "rel", "k_se", "min", "max"}


@dataclass(frozen=True)
class CaseSpec:
    """One gated case: a command run on a model and data with options, once per seed.

    Attributes:
        name: unique case name, the JUnit classname and the key in the baseline.
        command: a registered runner (evaluate, quantize, simulate, qat-export, cost, python).
        model, calib, eval: resolved input paths (None when the command does not take them).
        options: runner-specific options, passed through (e.g. fmt, calib_method, preset, repeats).
        seeds: one run per seed; their results are pooled into mean, spread and sample count.
        metrics: the metrics to gate (None: all the runner reports).
        tolerances: per metric name, the tolerance overriding the config's and the catalogue's.
        root: the config's folder, against which runners resolve paths given in options.
    """

    name: str
    command: str
    model: Path | None
    calib: Path | None
    eval: Path | None
    options: dict[str, Any]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...] | None
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    root: Path = Path(".")

    def option_path(self, key: str) -> Path | None:
        """Return options[key] as a path resolved like the case's own paths (None when the option is absent)."""
        value = self.options.get(key)
        if value is None:
            return None
        return _resolve_path(value, self.root, must_exist=True, where=f"case {self.name!r}: options.{key}")


@dataclass(frozen=True)
class GateConfig:
    """A parsed gate config: its path, the baseline path, declared metrics and the cases in order."""

    path: Path
    baseline_path: Path
    cases: tuple[CaseSpec, ...]
    declared_metrics: dict[str, MetricSpec]

    def spec_for(self, case: CaseSpec, metric: str) -> MetricSpec:
        """Return the metric's spec with this case's effective tolerance."""
        return resolve_spec(metric, self.declared_metrics, case.tolerances.get(metric))

    def case(self, name: str) -> CaseSpec:
        """Return the case with this name (UserError listing the names otherwise)."""
        for case in self.cases:
            if case.name == name:
                return case
        raise UserError(f"no case {name!r} in {self.path}; cases: {', '.join(c.name for c in self.cases)}")


def load_config(path: str | Path) -> GateConfig:
    """Return the parsed gate config at path (or `example:NAME` for a shipped one); mistakes raise UserError."""
    if str(path).startswith("example:"):
        path = _resolve_path(str(path), Path("."), must_exist=True, where="gate config")
    path = Path(path)
    if not path.is_file():
        raise UserError(f"gate config {path} does not exist; pass the YAML file that lists the gated cases")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserError(f"gate config {path} is not valid YAML ({_one_line(err)}); fix its syntax") from None
    if not isinstance(raw, dict):
        raise UserError(f"gate config {path} must be a mapping with `baseline` and `cases`; see docs/gate.md")
    _check_keys(raw, _TOP_KEYS, f"{path}")
    version = raw.get("version", CONFIG_VERSION)
    if version not in (1, CONFIG_VERSION):
        raise UserError(f"{path}: version {version!r} is not supported (this edgeq reads versions 1 and "
                        f"{CONFIG_VERSION})")
    root = path.resolve().parent
    if "baseline" not in raw or not isinstance(raw["baseline"], str):
        raise UserError(f"{path}: `baseline` (path of the baseline JSON, relative to the config) is required")
    declared = _parse_declared_metrics(raw.get("metrics") or {}, path)
    default_seeds = _parse_seeds(raw.get("seeds", [0]), f"{path}: seeds")
    k_se = raw.get("k_se")
    global_tols = _parse_tolerances(raw.get("tolerances") or {}, f"{path}: tolerances", declared, {}, k_se, version)
    cases_raw = raw.get("cases")
    if not isinstance(cases_raw, list) or not cases_raw:
        raise UserError(f"{path}: `cases` must be a non-empty list of cases; see docs/gate.md")
    cases = []
    for index, item in enumerate(cases_raw):
        cases.append(_parse_case(item, index, path, root, default_seeds, declared, global_tols, version))
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"{path}: case names must be unique; repeated: {', '.join(duplicates)}")
    return GateConfig(path=path, baseline_path=_resolve_path(raw["baseline"], root, must_exist=False),
                      cases=tuple(cases), declared_metrics=declared)


def _parse_case(item: Any, index: int, path: Path, root: Path, default_seeds: tuple[int, ...],
                declared: dict[str, MetricSpec], global_tols: dict[str, Tolerance], version: int) -> CaseSpec:
    where = f"{path}: cases[{index}]"
    if not isinstance(item, dict):
        raise UserError(f"{where} must be a mapping with name, command, model, ...")
    _check_keys(item, _CASE_KEYS, where)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{where}: `name` (a unique string) is required")
    where = f"{path}: case {name!r}"
    command = item.get("command")
    if not isinstance(command, str):
        raise UserError(f"{where}: `command` is required (evaluate, quantize, simulate, qat-export, cost, python)")
    options = item.get("options") or {}
    if not isinstance(options, dict):
        raise UserError(f"{where}: `options` must be a mapping of option names to values")
    metrics = item.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics) or not metrics:
            raise UserError(f"{where}: `metrics` must be a non-empty list of metric names")
        for metric in metrics:
            resolve_spec(metric, declared)
        metrics = tuple(metrics)
    tolerances = dict(global_tols)
    tolerances.update(_parse_tolerances(item.get("tolerances") or {}, f"{where}: tolerances", declared,
                                        global_tols, None, version))
    paths = {key: _resolve_path(item[key], root, must_exist=True, where=f"{where}: {key}")
             if item.get(key) is not None else None for key in ("model", "calib", "eval")}
    return CaseSpec(name=name, command=command, options=dict(options),
                    seeds=_parse_seeds(item.get("seeds", list(default_seeds)), f"{where}: seeds"),
                    metrics=metrics, tolerances=tolerances, root=root, **paths)


def _parse_declared_metrics(raw: Any, path: Path) -> dict[str, MetricSpec]:
    if not isinstance(raw, dict):
        raise UserError(f"{path}: `metrics` must map metric names to {{better, unit, abs, rel, k_se}}")
    declared = {}
    for name, body in raw.items():
        if not isinstance(body, dict) or "better" not in body:
            raise UserError(f"{path}: metrics.{name} needs `better: higher|lower|exact|info`")
        _check_keys(body, {"better", "unit", "description"} | _TOL_KEYS, f"{path}: metrics.{name}")
        try:
            better = Better(body["better"])
        except ValueError:
            raise UserError(f"{path}: metrics.{name}.better must be higher, lower, exact or info") from None
        exact = better is Better.EXACT
        tol = Tolerance(abs=0.0, rel=0.0, k_se=0.0) if exact else _tolerance(body, f"{path}: metrics.{name}")
        declared[name] = MetricSpec(name, better, str(body.get("unit", "")), tol, str(body.get("description", "")))
    return declared


def _parse_tolerances(raw: Any, where: str, declared: dict[str, MetricSpec], inherited: dict[str, Tolerance],
                      k_se: Any, version: int = CONFIG_VERSION) -> dict[str, Tolerance]:
    """Return per-metric tolerances; fields not given keep the inherited (config-level or catalogue) value.

    A version-1 config gave accuracy tolerances (abs, min, max) in percent: they are read as fractions / 100.
    """
    if not isinstance(raw, dict):
        raise UserError(f"{where} must map metric names to {{abs, rel, k_se}}")
    out: dict[str, Tolerance] = {}
    if k_se is not None:
        for spec in list(CATALOGUE.values()) + list(declared.values()):
            if not spec.deterministic:
                out[spec.name] = replace(spec.tolerance, k_se=_number(k_se, "k_se", where))
    for name, body in raw.items():
        spec = resolve_spec(name, declared)
        if spec.deterministic:
            raise UserError(f"{where}.{name}: {name} is deterministic and must match exactly; remove its tolerance")
        if not isinstance(body, dict):
            raise UserError(f"{where}.{name} must be a mapping with abs, rel and/or k_se")
        _check_keys(body, _TOL_KEYS, f"{where}.{name}")
        base = out.get(name) or inherited.get(name) or spec.tolerance
        values = {k: _number(v, k, f"{where}.{name}") for k, v in body.items()}
        if version == 1 and spec.unit == FRACTION:
            values = {k: v / 100.0 if k in ("abs", "min", "max") else v for k, v in values.items()}
        out[name] = replace(base, **values)
    return out


def _tolerance(body: dict, where: str) -> Tolerance:
    values = {k: _number(body[k], k, where) for k in _TOL_KEYS if k in body}
    return Tolerance(**values)


def _number(value: Any, key: str, where: str) -> float:
    if key in ("min", "max") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)  # absolute limits may be negative (an SQNR floor below 0 dB)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UserError(f"{where}.{key} must be a number >= 0, got {value!r}")
    return float(value)


def _parse_seeds(raw: Any, where: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(s, int) and not isinstance(s, bool) for s in raw):
        raise UserError(f"{where} must be a non-empty list of integers, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise UserError(f"{where} repeats a seed ({raw}); repeated seeds would count the same sample twice")
    return tuple(raw)


def _resolve_path(value: Any, root: Path, must_exist: bool, where: str = "") -> Path:
    """Resolve a config path: relative to the config's folder, or `example:NAME` for a shipped example."""
    if not isinstance(value, str) or not value:
        raise UserError(f"{where} must be a path string")
    if value.startswith("example:"):
        from ..examples import example_path

        try:
            return example_path(value.removeprefix("example:"))
        except FileNotFoundError as err:
            raise UserError(f"{where}: {err}") from None
    path = Path(value)
    path = path if path.is_absolute() else root / path
    if must_exist and not path.exists():
        raise UserError(f"{where}: {path} does not exist; paths are relative to the config's folder")
    return path


def _check_keys(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                        f"allowed: {', '.join(sorted(allowed))}")


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
