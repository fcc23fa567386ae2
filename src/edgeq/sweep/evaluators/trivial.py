"""A closed-form evaluator for tests and overhead benchmarks: no model, microseconds per trial."""

from __future__ import annotations

import math
from typing import Any


class TrivialEvaluator:
    """Two conflicting objectives of the numeric parameters (ZDT1-like): f1 = x0, f2 = g * (1 - sqrt(f1 / g)).

    Numeric parameters are mapped to [0, 1] by the option `scale` (default 1) before use; categorical ones are
    ignored. Option `work_ms` burns CPU for that long per trial (a stand-in for a real objective in scaling tests).
    """

    metrics = ("f1", "f2")
    options = ("scale", "work_ms")

    def __init__(self, task) -> None:
        self.scale = float(task.options.get("scale", 1.0))
        self.work_ms = float(task.options.get("work_ms", 0.0))

    def evaluate(self, config: dict[str, Any]) -> dict[str, float]:
        """Return f1 and f2 for the config."""
        xs = [float(v) / self.scale for v in config.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not xs:
            xs = [0.0]
        if self.work_ms:
            _burn(self.work_ms / 1000.0)
        f1 = xs[0]
        g = 1.0 + 9.0 * sum(xs[1:]) / max(len(xs) - 1, 1)
        return {"f1": f1, "f2": g * (1.0 - math.sqrt(max(f1, 0.0) / g))}


def _burn(seconds: float) -> None:
    import time

    end = time.perf_counter() + seconds
    x = 0.0
    while time.perf_counter() < end:
        x += 1.0
