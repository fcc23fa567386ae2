"""Pareto masks and hypervolume against brute force and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from edgeq.sweep.pareto import hypervolume, hypervolume_history, pareto_mask


def _brute_front(values, directions):
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    loss = values * sign
    out = []
    for i, a in enumerate(loss):
        dominated = any(np.all(b <= a) and np.any(b < a) for j, b in enumerate(loss) if j != i)
        out.append(not dominated)
    return np.array(out)


@pytest.mark.parametrize("directions", [["minimize", "minimize"], ["maximize", "minimize"],
                                        ["maximize", "minimize", "minimize"]])
def test_pareto_mask_matches_brute_force(directions):
    rng = np.random.default_rng(7)
    values = rng.integers(0, 6, size=(80, len(directions))).astype(float)  # many ties and duplicates
    assert np.array_equal(pareto_mask(values, directions), _brute_front(values, directions))


def test_hypervolume_2d_by_hand():
    # Points (0.2, 0.6) and (0.5, 0.1) against (1.1, 1.1): 0.9*0.5 + 0.6*1.0 - overlap 0.6*0.5 = 0.75
    assert hypervolume(np.array([[0.2, 0.6], [0.5, 0.1]])) == pytest.approx(0.9 * 0.5 + 0.6 * 1.0 - 0.6 * 0.5)


def test_hypervolume_history_never_decreases_and_ends_at_the_fronts_volume():
    rng = np.random.default_rng(3)
    values = rng.random((40, 2))
    history = hypervolume_history(values, ["maximize", "minimize"])
    assert np.all(np.diff(history) >= -1e-12)
    loss = values * np.array([-1.0, 1.0])
    low, span = loss.min(axis=0), loss.max(axis=0) - loss.min(axis=0)
    assert history[-1] == pytest.approx(hypervolume((loss - low) / span))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_matches_inclusion_exclusion(m):
    """Our exact hypervolume (no private Optuna API) against the union of boxes by inclusion-exclusion."""
    from itertools import combinations

    rng = np.random.default_rng(m)
    points = rng.random((7, m))
    ref = np.full(m, 1.1)
    union = 0.0
    for k in range(1, len(points) + 1):
        for subset in combinations(points, k):
            corner = np.max(subset, axis=0)
            union += (-1) ** (k + 1) * float(np.prod(np.clip(ref - corner, 0, None)))
    assert hypervolume(points) == pytest.approx(union, rel=1e-12)
