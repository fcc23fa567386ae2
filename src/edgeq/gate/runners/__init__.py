"""Case runners: one per edgeq command the gate can evaluate, looked up by name.

A runner is `runner(case: CaseSpec, seed: int) -> dict[str, float | list[float]]`: metric name to one value, or to
a list of samples when one seed yields several (Monte-Carlo repeats). Built-in runners are imported only when a
case uses them, so a command whose feature this edgeq lacks fails that case with a clear message, not the import.
"""

from __future__ import annotations

import importlib
from typing import Callable, Union

from ...errors import ConfigError, UserError

MetricValues = dict[str, Union[float, list[float]]]
Runner = Callable[..., MetricValues]

# command name -> "module:function" inside this package
_BUILTIN: dict[str, str] = {
    "evaluate": "evaluate:run_evaluate",
    "quantize": "quantize:run_quantize",
    "simulate": "simulate:run_simulate",
    "qat-export": "qat_export:run_qat_export",
    "cost": "cost:run_cost",
    "python": "python_call:run_python",
}
_REGISTERED: dict[str, Runner] = {}


def register_runner(name: str, runner: Runner) -> None:
    """Register a runner under a command name for gate configs (overrides a built-in of the same name)."""
    if not name or not callable(runner):
        raise ConfigError("register_runner needs a non-empty name and a callable(case, seed) -> dict")
    _REGISTERED[name] = runner


def runner_names() -> list[str]:
    """Return every command name a gate case may use."""
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def get_runner(name: str) -> Runner:
    """Return the runner for a command name (UserError listing the known names otherwise)."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in _BUILTIN:
        raise UserError(f"unknown gate command {name!r}; use one of: {', '.join(runner_names())}")
    module_name, func = _BUILTIN[name].split(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, func)
