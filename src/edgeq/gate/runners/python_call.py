"""`python`: gate any metric a team computes itself, by naming a function `package.module:function`.

The function is called as `function(model=..., calib=..., eval=..., seed=..., **options)` (paths or None) and
returns a dict of metric name to a number or a list of samples; metrics not in edgeq's catalogue must be declared
in the config's `metrics:` section with their direction.
"""

from __future__ import annotations

import importlib

from ...errors import UserError
from ..config import CaseSpec


def run_python(case: CaseSpec, seed: int) -> dict:
    """Return the metrics computed by the case's `options.function` for this seed."""
    options = dict(case.options)
    target = options.pop("function", None)
    if not isinstance(target, str) or ":" not in target:
        raise UserError(f"case {case.name!r}: command python needs `options: {{function: package.module:name}}`")
    module_name, func_name = target.split(":", 1)
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as err:
        raise UserError(f"case {case.name!r}: cannot import {target} ({err}); is it on PYTHONPATH?") from None
    result = func(model=case.model, calib=case.calib, eval=case.eval, seed=seed, **options)
    if not isinstance(result, dict):
        raise UserError(f"case {case.name!r}: {target} returned {type(result).__name__}, not a dict of metrics")
    return result
