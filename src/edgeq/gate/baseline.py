"""The committed baseline: per case and metric the value, sample count, spread over seeds, seeds and direction,
plus the eval data's hash and the environment it was measured in. Written with sorted keys and rounded floats so a
re-run on the same machine gives the same bytes and a deliberate update reviews as a small diff.

Schema 2 stores accuracies and agreements as fractions (unit "fraction"); schema 1 stored them in percent
(unit "%") and is read by converting those metrics. A baseline never holds NaN: it would pass any value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import atomic_write_text, dumps_json
from .metrics import FRACTION

SCHEMA = "edgeq-gate-baseline"
SCHEMA_VERSION = 2
_READS = (1, 2)
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
    def from_dict(cls, raw: dict, where: str, schema_version: int = SCHEMA_VERSION) -> "MetricRecord":
        """Return the record parsed from JSON (UserError naming `where` when malformed or NaN)."""
        try:
            record = cls(value=_to_float(raw["value"]), n=int(raw["n"]), spread=_to_float(raw["spread"]),
                         seeds=tuple(int(s) for s in raw["seeds"]), better=str(raw["better"]),
                         unit=str(raw["unit"]))
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"baseline {where} is malformed ({err!r}); re-create it with `edgeq gate update`") from None
        if math.isnan(record.value) or math.isnan(record.spread):
            raise UserError(f"baseline {where} is NaN (null), which would pass any value; re-record it with "
                            "`edgeq gate update` once the case measures a number")
        if schema_version == 1 and record.unit == "%":  # schema 1 kept accuracies in percent
            record = cls(value=float(round_value(record.value / 100.0)),
                         spread=float(round_value(record.spread / 100.0)), n=record.n, seeds=record.seeds,
                         better=record.better, unit=FRACTION)
        return record


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
    def from_dict(cls, raw: dict, where: str, schema_version: int = SCHEMA_VERSION) -> "CaseRecord":
        """Return the record parsed from JSON."""
        try:
            metrics = {name: MetricRecord.from_dict(body, f"{where}.{name}", schema_version)
                       for name, body in raw["metrics"].items()}
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
        return dumps_json(body, indent=2, sort_keys=True)

    def write(self, path: str | Path) -> None:
        """Write the baseline atomically; refuse (UserError) one holding NaN, which would pass any value."""
        bad = [f"{case}/{name}" for case, rec in sorted(self.cases.items()) for name, m in sorted(rec.metrics.items())
               if math.isnan(m.value) or math.isnan(m.spread)]
        if bad:
            raise UserError(f"cannot record a baseline with NaN metrics ({', '.join(bad)}): NaN would pass any value; "
                            "fix the case so it measures a number")
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
    version = raw.get("schema_version")
    if version not in _READS:
        raise UserError(f"baseline {path} has schema_version {version!r}; this edgeq reads "
                        f"{', '.join(map(str, _READS))}: re-record it with `edgeq gate update`")
    cases_raw = raw.get("cases")
    if not isinstance(cases_raw, dict):
        raise UserError(f"baseline {path} has no `cases` mapping; re-create it with `edgeq gate update`")
    cases = {name: CaseRecord.from_dict(body, f"{path.name}:{name}", version) for name, body in cases_raw.items()}
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
