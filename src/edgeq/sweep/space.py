"""The search space: its parameters (`Param`), suggesting a config on an Optuna trial, and enumerating the grid.

Grids are enumerated lazily: an int range is a `range`, a float grid computes its values on demand, and sizes are
counted with a cut-off, so a space of 10^8 points costs nothing until someone asks for its points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Iterator

GRID_LIMIT = 100_000
"""The most points a sweep may queue as a grid; a larger finite space needs `budget: {trials: N}` to be sampled."""

_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One dimension of the search space; `when` makes it exist only if earlier parameters have given values."""

    name: str
    kind: str  # "categorical" | "int" | "float"
    choices: tuple = ()
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    when: tuple[tuple[str, tuple], ...] = ()

    def active(self, config: dict[str, Any]) -> bool:
        """Return True if every `when` condition holds for the (partial) config."""
        return all(config.get(key, _MISSING) in allowed for key, allowed in self.when)

    def grid_values(self) -> Sequence | None:
        """Return the values of this parameter as a lazy sequence, or None when it is continuous."""
        if self.kind == "categorical":
            return self.choices
        if self.step is None:
            return None
        if self.kind == "int":
            return range(int(self.low), int(self.high) + 1, int(self.step))
        return _FloatGrid(self.low, self.high, self.step)


class _FloatGrid(Sequence):
    """low, low + step, ... <= high, computed on demand."""

    def __init__(self, low: float, high: float, step: float) -> None:
        self.low, self.step = low, step
        self.n = int(math.floor((high - low) / step + 1e-9)) + 1

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return self.low + (i % self.n) * self.step

    def __contains__(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        i = round((value - self.low) / self.step)
        return 0 <= i < self.n and math.isclose(self[i], value, rel_tol=1e-9, abs_tol=1e-12)


def suggest(trial, space: tuple[Param, ...]) -> dict[str, Any]:
    """Return the config for this trial, asking Optuna for each active parameter in declared order."""
    config: dict[str, Any] = {}
    for p in space:
        if not p.active(config):
            continue
        if p.kind == "categorical":
            config[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            config[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
        else:
            config[p.name] = trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)
    return config


def grid_points(space: tuple[Param, ...]) -> Iterator[dict[str, Any]]:
    """Yield every config of a finite space once; a conditional parameter varies only where it is active."""
    yield from _expand(space, 0, {})


def _expand(space: tuple[Param, ...], i: int, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if i == len(space):
        yield dict(config)
        return
    p = space[i]
    if not p.active(config):
        yield from _expand(space, i + 1, config)
        return
    for value in p.grid_values():
        config[p.name] = value
        yield from _expand(space, i + 1, config)
        del config[p.name]


def space_size(space: tuple[Param, ...], limit: int | None = None) -> int | None:
    """Return the number of grid points (None if continuous); with `limit`, counting stops past it (returns a
    number > limit), so a huge conditional space is never enumerated."""
    if any(p.grid_values() is None for p in space):
        return None
    if not any(p.when for p in space):
        return math.prod(len(p.grid_values()) for p in space)
    n = 0
    for _ in grid_points(space):
        n += 1
        if limit is not None and n > limit:
            break
    return n


def canonical(config: dict[str, Any]) -> tuple:
    """Return a hashable, order-free key for a config (for de-duplication and tests)."""
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


__all__ = ["GRID_LIMIT", "Param", "suggest", "grid_points", "space_size", "canonical"]
