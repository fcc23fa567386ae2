"""Result cache: metrics of finished points keyed by a hash of (model, data, evaluator config, params, version).

A resumed or repeated sweep (even under a new study name) looks a point up here before evaluating it, so finished
points are never computed twice. One small JSON file per point, written atomically, so concurrent workers and
kill -9 can never leave a torn entry.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .. import __version__
from ..io import atomic_write_text


def cache_key(task_fingerprint: str, config: dict[str, Any]) -> str:
    """Return the hex key of one point: task inputs, the config (order-free) and the edgeq version."""
    payload = json.dumps({"task": task_fingerprint, "config": config, "edgeq": __version__}, sort_keys=True,
                         default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultCache:
    """A folder of `<key>.json` files holding {metric: value} for finished points."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._made: set[Path] = set()

    def get(self, key: str) -> dict[str, float] | None:
        """Return the cached metrics for key, or None (also for an unreadable entry, which is then recomputed)."""
        try:
            return json.loads((self.folder / f"{key[:2]}/{key}.json").read_text())["metrics"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, metrics: dict[str, float], config: dict[str, Any]) -> None:
        """Store the metrics of a finished point (non-finite values are stored as strings JSON can hold)."""
        path = self.folder / key[:2] / f"{key}.json"
        if path.parent not in self._made:  # one mkdir per shard, not per point
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        clean = {k: (v if math.isfinite(v) else repr(v)) for k, v in metrics.items()}
        atomic_write_text(path, json.dumps({"metrics": clean, "config": config}, sort_keys=True, default=repr))


def restore_floats(metrics: dict[str, Any]) -> dict[str, float]:
    """Return metrics with 'inf'/'-inf' strings from the cache turned back into floats."""
    return {k: float(v) for k, v in metrics.items()}
