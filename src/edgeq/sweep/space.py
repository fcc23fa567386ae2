"""The search space at run time: suggesting a config on an Optuna trial, and enumerating the grid."""

from __future__ import annotations

from typing import Any, Iterator

import optuna

from .spec import Param


def suggest(trial: optuna.Trial, space: tuple[Param, ...]) -> dict[str, Any]:
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


def space_size(space: tuple[Param, ...]) -> int | None:
    """Return the number of grid points without enumerating the unconditional product, or None if continuous."""
    if any(p.grid_values() is None for p in space):
        return None
    if not any(p.when for p in space):
        n = 1
        for p in space:
            n *= len(p.grid_values())
        return n
    return sum(1 for _ in grid_points(space))


def canonical(config: dict[str, Any]) -> tuple:
    """Return a hashable, order-free key for a config (for de-duplication and tests)."""
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


__all__ = ["suggest", "grid_points", "space_size", "canonical"]
