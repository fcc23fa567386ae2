"""Exact expected SQNR: quadrature against scipy, closed forms, and agreement with sampling."""

import numpy as np
import pytest
from scipy import integrate

from edgeq.study.theory import (
    best_clip,
    distributions,
    exact_mse,
    exact_sqnr_db,
    format_grid,
    format_top,
    sampled_best_sqnr_db,
    sampled_sqnr_db,
)


def _quad_mse(dist, grid, scale):
    points = grid * scale
    bounds = np.concatenate(([-np.inf], 0.5 * (points[1:] + points[:-1]), [np.inf]))
    total = 0.0
    for lo, hi, g in zip(bounds[:-1], bounds[1:], points):
        lo, hi = max(lo, -dist.support), min(hi, dist.support)
        if hi > lo:
            kink = [0.0] if np.isfinite(lo) and np.isfinite(hi) and lo < 0 < hi else None
            total += integrate.quad(lambda t: (t - g) ** 2 * dist.pdf(t), lo, hi, limit=500, points=kink)[0]
    return total


@pytest.mark.parametrize(
    "dist_name, fmt",
    [("uniform", "fp8_e2m5"), ("gaussian", "int8"), ("laplace", "fp8_e5m2"),
     pytest.param("student_t3", "int8", marks=pytest.mark.slow),
     pytest.param("student_t3", "fp8_e5m2", marks=pytest.mark.slow)],
)
def test_exact_mse_matches_adaptive_quadrature(dist_name, fmt):
    dist = distributions()[dist_name]
    grid = format_grid(fmt)
    for clip in (2.0, 7.0):
        ours = exact_mse(dist, grid, clip / format_top(fmt))
        assert ours == pytest.approx(_quad_mse(dist, grid, clip / format_top(fmt)), rel=1e-7)


def test_uniform_int8_closed_form():
    # Uniform data filling [-clip, clip] with step clip/127: SQNR = 10 log10(4 * 127^2), the textbook 6.02 dB/bit.
    value = exact_sqnr_db(distributions()["uniform"], "int8", np.sqrt(3.0))
    assert value == pytest.approx(10 * np.log10(4 * 127**2), abs=1e-6)


def test_grid_has_each_finite_value_once():
    grid = format_grid("fp8_e4m3")
    assert len(grid) == 253 and grid.max() == 448.0 and np.all(np.diff(grid) > 0)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["int8", "fp8_e3m4"])
def test_sampled_agrees_with_exact_for_gaussian(fmt):
    dist = distributions()["gaussian"]
    clip, exact = best_clip(dist, fmt, coarse_points=121)
    samples = dist.sample(400_000, np.random.default_rng(1))
    assert sampled_sqnr_db(samples, fmt, clip) == pytest.approx(exact, abs=0.15)
    _, searched = sampled_best_sqnr_db(samples, fmt, scan_points=41)
    assert exact - 0.1 <= searched <= exact + 0.4  # a search on the samples can only overfit upwards
