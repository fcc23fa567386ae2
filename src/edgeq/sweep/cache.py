"""Result cache: metrics of finished points keyed by a hash of (model, data, evaluator config, params, version).

A resumed or repeated sweep (even under a new study name) looks a point up here before evaluating it, so finished
points are never computed twice. One small JSON file per point, written atomically, so concurrent workers and
kill -9 can never leave a torn entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..io import atomic_write_text, dumps_json, read_json_number


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
        """Store the metrics of a finished point (strict JSON: infinities as "inf"/"-inf", NaN as null)."""
        path = self.folder / key[:2] / f"{key}.json"
        if path.parent not in self._made:  # one mkdir per shard, not per point
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        atomic_write_text(path, dumps_json({"metrics": metrics, "config": _plain(config)}, indent=None, sort_keys=True))


def restore_floats(metrics: dict[str, Any]) -> dict[str, float]:
    """Return metrics from the cache as floats ("inf"/"-inf" strings and null for NaN, per edgeq's JSON rule;
    entries written before that rule held "nan")."""
    return {k: read_json_number(v) if v is None or v in ("inf", "-inf") else float(v) for k, v in metrics.items()}


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """Return config with values JSON cannot hold as their repr (the cache keeps the config for people only)."""
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v) for k, v in config.items()}
