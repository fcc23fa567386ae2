"""The committed baseline: per case and metric the value, sample count, spread over seeds, seeds and direction,
plus the eval data's hash and the environment it was measured in. Written with sorted keys and rounded floats so a
re-run on the same machine gives the same bytes and a deliberate update reviews as a small diff."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import atomic_write_text

SCHEMA = "edgeq-gate-baseline"
SCHEMA_VERSION = 1
_SIGNIFICANT_DIGITS = 12  # enough for any metric; drops float noise like 98.80000000000001 from diffs


@dataclass(frozen=True)
class MetricRecord:
    """One metric of one case: mean over all samples, sample count, sample standard deviation, seeds, direction."""

    value: float
    n: int
    spread: float
    seeds: tuple[int, ...]
    better: str
    unit: str

    @property
    def standard_error(self) -> float:
        """Return spread / sqrt(n), the standard error of the recorded mean."""
        return self.spread / math.sqrt(self.n) if self.n > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"better": self.better, "n": self.n, "seeds": list(self.seeds), "spread": round_value(self.spread),
                "unit": self.unit, "value": round_value(self.value)}

    @classmethod
    def from_dict(cls, raw: dict, where: str) -> "MetricRecord":
        """Return the record parsed from JSON (UserError naming `where` when malformed)."""
        try:
            return cls(value=_to_float(raw["value"]), n=int(raw["n"]), spread=float(raw["spread"]),
                       seeds=tuple(int(s) for s in raw["seeds"]), better=str(raw["better"]), unit=str(raw["unit"]))
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"baseline {where} is malformed ({err!r}); re-create it with `edgeq gate update`") from None


@dataclass(frozen=True)
class CaseRecord:
    """One case: what ran (command, options, input names and hashes) and its metrics."""

    command: str
    options: dict[str, Any]
    model: str | None
    model_hash: str | None
    calib_hash: str | None
    eval_hash: str | None
    seeds: tuple[int, ...]
    metrics: dict[str, MetricRecord] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"calib_hash": self.calib_hash, "command": self.command, "eval_hash": self.eval_hash,
                "metrics": {name: rec.to_dict() for name, rec in sorted(self.metrics.items())},
                "model": self.model, "model_hash": self.model_hash, "options": self.options,
                "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, raw: dict, where: str) -> "CaseRecord":
        """Return the record parsed from JSON."""
        try:
            metrics = {name: MetricRecord.from_dict(body, f"{where}.{name}") for name, body in raw["metrics"].items()}
            return cls(command=str(raw["command"]), options=dict(raw.get("options") or {}), model=raw.get("model"),
                       model_hash=raw.get("model_hash"), calib_hash=raw.get("calib_hash"),
                       eval_hash=raw.get("eval_hash"), seeds=tuple(int(s) for s in raw.get("seeds", [])),
                       metrics=metrics)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise UserError(f"baseline {where} is malformed ({err!r}); re-create it with `edgeq gate update`") from None


@dataclass(frozen=True)
class Baseline:
    """All cases of one gate config plus the environment they were measured in."""

    environment: dict[str, Any]
    cases: dict[str, CaseRecord]

    def to_json(self) -> str:
        """Return the canonical JSON text (sorted keys, 2-space indent, trailing newline)."""
        body = {"cases": {name: rec.to_dict() for name, rec in sorted(self.cases.items())},
                "environment": self.environment, "schema": SCHEMA, "schema_version": SCHEMA_VERSION}
        return json.dumps(body, indent=2, sort_keys=True, allow_nan=True) + "\n"

    def write(self, path: str | Path) -> None:
        """Write the baseline atomically."""
        atomic_write_text(path, self.to_json())


def load_baseline(path: str | Path) -> Baseline:
    """Return the baseline at path; UserError (exit 2) when missing, unreadable or of another schema version."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"baseline {path} does not exist; record one with `edgeq gate update CONFIG` and commit it")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"baseline {path} is not valid JSON ({err}); restore it from git or run `edgeq gate update`") \
            from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise UserError(f"{path} is not an edgeq gate baseline (no \"schema\": \"{SCHEMA}\")")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"baseline {path} has schema_version {raw.get('schema_version')!r}; this edgeq reads "
                        f"{SCHEMA_VERSION}: re-record it with `edgeq gate update`")
    cases_raw = raw.get("cases")
    if not isinstance(cases_raw, dict):
        raise UserError(f"baseline {path} has no `cases` mapping; re-create it with `edgeq gate update`")
    cases = {name: CaseRecord.from_dict(body, f"{path.name}:{name}") for name, body in cases_raw.items()}
    return Baseline(environment=dict(raw.get("environment") or {}), cases=cases)


def round_value(value: float) -> float | int:
    """Return value as stored in a baseline: integral values as int, others to 12 significant digits."""
    if isinstance(value, int) or (math.isfinite(value) and value == int(value) and abs(value) < 2**53):
        return int(value)
    if not math.isfinite(value):
        return value
    return float(f"{value:.{_SIGNIFICANT_DIGITS}g}")


def _to_float(value: Any) -> float:
    if value is None:  # JSON has no NaN in strict mode; a null value means the run produced NaN
        return float("nan")
    return float(value)
