"""Pareto fronts and hypervolume on plain arrays (every objective turned into minimisation first)."""

from __future__ import annotations

import numpy as np


def to_minimization(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Return values [n, m] with maximised objectives negated, so that smaller is better everywhere."""
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(values, dtype=np.float64) * sign


def pareto_mask(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Return a bool mask of the non-dominated rows of values [n, m] (ties: equal points are all kept)."""
    loss = to_minimization(values, directions)
    n = len(loss)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        # i is dominated if some row is <= everywhere and < somewhere; O(n^2 m), fine for sweeps of 10^4 points.
        le = np.all(loss <= loss[i], axis=1)
        lt = np.any(loss < loss[i], axis=1)
        if np.any(le & lt):
            mask[i] = False
    return mask


def normalizer(values: np.ndarray, directions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (low, span) that map the observed loss range of each objective onto [0, 1]."""
    loss = to_minimization(values, directions)
    low = loss.min(axis=0)
    span = loss.max(axis=0) - low
    return low, np.where(span > 0, span, 1.0)


def hypervolume(loss01: np.ndarray, reference: float = 1.1) -> float:
    """Return the hypervolume of normalised losses [n, m] against the point (reference, ..., reference)."""
    loss01 = np.asarray(loss01, dtype=np.float64)
    if len(loss01) == 0:
        return 0.0
    ref = np.full(loss01.shape[1], reference)
    inside = loss01[np.all(loss01 < ref, axis=1)]
    return _slice_volume(inside, ref) if len(inside) else 0.0


def _slice_volume(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact dominated volume by slicing along the last objective (HSO): O(n^(m-1) log n), which is instant for
    sweep fronts of a few hundred points in 2-4 objectives. Our own, since Optuna's is private API."""
    points = points[pareto_mask(points, ["minimize"] * points.shape[1])]
    if points.shape[1] == 1:
        return float(ref[0] - points[:, 0].min())
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    volume = 0.0
    for i in range(len(points)):
        top = points[i + 1, -1] if i + 1 < len(points) else ref[-1]
        height = top - points[i, -1]
        if height > 0:
            volume += height * _slice_volume(points[: i + 1, :-1], ref[:-1])
    return float(volume)


def hypervolume_history(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Return the hypervolume after each of the rows of values (in completion order), normalised to [0, 1.1^m]."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.zeros(0)
    low, span = normalizer(values, directions)
    loss01 = (to_minimization(values, directions) - low) / span
    history = np.empty(len(values))
    front = np.empty((0, values.shape[1]))
    for i, point in enumerate(loss01):
        if not np.any(np.all(front <= point, axis=1)):  # the new point is not weakly dominated: front changes
            keep = ~np.all(point <= front, axis=1)
            front = np.vstack([front[keep], point])
            history[i] = hypervolume(front)
        else:
            history[i] = history[i - 1]
    return history
