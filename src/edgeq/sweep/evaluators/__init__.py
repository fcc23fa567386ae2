"""Trial evaluators: a registry of name -> class turning one config into a dict of metrics.

An evaluator is built once per evaluation process from an `EvalTask` (model, data, options) and then called for
each trial with `evaluate(config) -> {metric: float}`. Register your own with `register_evaluator("name",
"package.module:Class")`, or point a spec at a file: `evaluator: python:my_eval.py:MyEvaluator`.

Trust: a `python:` evaluator is code named by the spec, imported and run with your permissions (like pytest's
conftest.py). Run only specs you trust.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...errors import UserError

# name -> "module:Class", imported only in the process that evaluates (keeps `edgeq sweep status` fast).
_REGISTRY: dict[str, str] = {
    "trivial": "edgeq.sweep.evaluators.trivial:TrivialEvaluator",
    "weights": "edgeq.sweep.evaluators.onnx_weights:WeightQuantEvaluator",
    "quantize": "edgeq.sweep.evaluators.hardware:DigitalEvaluator",
    "analog": "edgeq.sweep.evaluators.hardware:AnalogEvaluator",
    "hardware": "edgeq.sweep.evaluators.hardware:HardwareEvaluator",
}


@dataclass(frozen=True)
class EvalTask:
    """What an evaluator needs besides the config: model files, data files and its options (all picklable)."""

    evaluator: str
    models: tuple[str, ...] = ()
    data: str | None = None
    calib: str | None = None
    options: dict = field(default_factory=dict)
    base_dir: str = "."

    def model_path(self, config: dict[str, Any]) -> str:
        """Return the model file for this config (the `model` parameter picks one when several are swept)."""
        if not self.models:
            raise UserError(f"evaluator {self.evaluator!r} needs a model; add model: FILE.onnx to the spec")
        if len(self.models) == 1:
            return self.models[0]
        return next(m for m in self.models if Path(m).stem == config["model"])

    def fingerprint(self) -> str:
        """Return a hash of the evaluator's inputs: file contents (not names), evaluator, its source and version,
        and options; editing a `python:` evaluator's file therefore invalidates its cached results."""
        h = hashlib.sha256()
        for part in (self.evaluator, evaluator_source_digest(self.evaluator, self.base_dir),
                     repr(sorted(self.options.items()))):
            h.update(part.encode())
        for path in (*self.models, self.data, self.calib):
            h.update(_file_digest(path).encode() if path else b"-")
        return h.hexdigest()


class Evaluator(Protocol):
    """The evaluator interface: built from an EvalTask, then `evaluate(config) -> {metric: value}`.

    Optional: a static `canonical_config(config) -> config` that maps configs describing the same experiment to
    one form (e.g. dropping a per-layer format equal to the default); the cache and duplicate detection use it.
    """

    metrics: tuple[str, ...]
    """The metrics `evaluate` returns; objectives and constraints are checked against them (optional)."""
    options: tuple[str, ...]
    """The evaluator_options keys it reads; others are rejected as typos when the spec loads (optional)."""
    version: str
    """Bump when the results change for the same inputs, so cached results are recomputed (optional)."""

    def evaluate(self, config: dict[str, Any]) -> dict[str, float]:
        """Return the metrics of one config."""


def register_evaluator(name: str, target: str | type) -> None:
    """Register an evaluator class (or its "module:Class" path) under name."""
    _REGISTRY[name] = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"


def evaluator_names() -> list[str]:
    """Return the registered evaluator names."""
    return sorted(_REGISTRY)


def resolve_evaluator(name: str, base_dir: str | Path = ".") -> type:
    """Return the evaluator class for a registered name or a `python:module:Class` / `python:file.py:Class` path."""
    if name.startswith("python:"):
        target = name[len("python:"):]
    elif name in _REGISTRY:
        target = _REGISTRY[name]
    else:
        raise UserError(f"evaluator: unknown {name!r}; use one of {', '.join(evaluator_names())} "
                        "or python:module:Class")
    module_name, _, cls_name = target.rpartition(":")
    if not module_name or not cls_name:
        raise UserError(f"evaluator: {name!r} should look like python:package.module:Class or python:file.py:Class")
    try:
        module = _import(module_name, Path(base_dir))
    except ImportError as err:
        raise UserError(f"evaluator: cannot import {module_name} ({err})") from None
    try:
        return getattr(module, cls_name)
    except AttributeError:
        raise UserError(f"evaluator: {module_name} has no {cls_name}") from None


def build_evaluator(task: EvalTask) -> Evaluator:
    """Return a ready evaluator for the task."""
    return resolve_evaluator(task.evaluator, task.base_dir)(task)


def canonicalizer(name: str, base_dir: str | Path = "."):
    """Return the evaluator's `canonical_config` function, or the identity where it has none."""
    return getattr(resolve_evaluator(name, base_dir), "canonical_config", lambda config: config)


def declared_metrics(name: str, base_dir: str | Path = ".") -> tuple[str, ...] | None:
    """Return the metrics an evaluator promises, or None where it does not say (e.g. user plug-ins)."""
    return getattr(resolve_evaluator(name, base_dir), "metrics", None)


def declared_options(name: str, base_dir: str | Path = ".") -> tuple[str, ...] | None:
    """Return the evaluator_options keys an evaluator reads, or None where it does not say (e.g. user plug-ins)."""
    options = getattr(resolve_evaluator(name, base_dir), "options", None)
    return None if options is None else (*options, "threads")  # threads: read by the evaluation process


def evaluator_source_digest(name: str, base_dir: str | Path = ".") -> str:
    """Return a hash of a `python:` evaluator's source file and its class's `version` ('' for built-ins, whose
    results are keyed by the edgeq version)."""
    if not name.startswith("python:"):
        return ""
    module_name, _, cls_name = name[len("python:"):].rpartition(":")
    if module_name.endswith(".py"):
        source = (Path(base_dir) / module_name).resolve()
    else:
        try:
            found = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            found = None
        source = Path(found.origin) if found is not None and found.origin else None
    digest = _file_digest(str(source)) if source is not None and source.is_file() else "no-source"
    version = getattr(resolve_evaluator(name, base_dir), "version", "")
    return f"{digest}:{version}"


def _import(module_name: str, base_dir: Path):
    if module_name.endswith(".py"):
        path = (base_dir / module_name).resolve()
        if not path.is_file():
            raise ImportError(f"{path} does not exist")
        key = f"edgeq_sweep_plugin_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
        if key in sys.modules:
            return sys.modules[key]
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(module_name)


_DIGESTS: dict[str, str] = {}


def _file_digest(path: str) -> str:
    if path not in _DIGESTS:
        h = hashlib.sha256()
        p = Path(path)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                h.update(f.read_bytes())
        _DIGESTS[path] = h.hexdigest()
    return _DIGESTS[path]
