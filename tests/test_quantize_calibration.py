"""Streaming observers and range selection: exact histogram merging, flat memory, each method's choice."""

import numpy as np
import pytest

from edgeq.ptq.calibration import HistogramObserver, MinMaxObserver, choose_range
from edgeq.ptq.config import parse_calib_method
from edgeq.ptq.planner import activation_entry, range_quantizer


def test_histogram_that_grew_by_doubling_equals_one_built_on_the_final_range():
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal(5000).astype(np.float32) * s for s in (0.1, 0.5, 3.0, 40.0)]
    obs = HistogramObserver(bins=256)
    for b in batches:
        obs.update(b)
    everything = np.concatenate(batches)
    edges = np.linspace(0, obs.limit, obs.bins + 1)
    np.testing.assert_array_equal(obs.pos, np.histogram(everything[everything >= 0], edges)[0])
    np.testing.assert_array_equal(obs.neg, np.histogram(-everything[everything < 0], edges)[0])
    assert obs.range() == (float(everything.min()), float(everything.max()))


def test_observer_memory_does_not_grow_with_samples():
    rng = np.random.default_rng(1)
    obs = HistogramObserver()
    obs.update(rng.standard_normal(1000).astype(np.float32))
    size = obs.pos.nbytes + obs.neg.nbytes
    for _ in range(200):
        obs.update(rng.standard_normal(1000).astype(np.float32))
    assert obs.pos.nbytes + obs.neg.nbytes == size
    assert obs.abs_counts().sum() == 201 * 1000


def _outlier_observer():
    rng = np.random.default_rng(2)
    x = np.abs(rng.standard_normal(100_000)).astype(np.float32)
    x[:5] = 60.0  # a few outliers stretch the min/max range
    obs = HistogramObserver()
    obs.update(x)
    return obs, x


@pytest.mark.parametrize("method", ["percentile:99.9", "entropy"])
def test_clipping_methods_ignore_outliers(method):
    obs, x = _outlier_observer()
    lo, hi = choose_range(obs, parse_calib_method(method), range_quantizer("uint8"))
    assert lo == obs.range()[0]  # nothing to clip below: the true minimum stays
    assert 2.0 < hi < 30.0, hi


@pytest.mark.parametrize("fmt", ["int8", "fp8_e4m3", "fp4"])
def test_mse_range_clips_heavy_tails_and_has_lower_error_than_minmax(fmt):
    x = np.random.default_rng(3).standard_t(2, 200_000).astype(np.float32)
    obs = HistogramObserver()
    for chunk in np.split(x, 10):
        obs.update(chunk)
    err = {}
    for method in ("minmax", "mse"):
        lo, hi = choose_range(obs, parse_calib_method(method), range_quantizer(fmt))
        q = activation_entry("x", lo, hi, fmt).apply(x)
        err[method] = float(np.mean((q - x) ** 2))
    assert err["mse"] < err["minmax"], err


def test_minmax_observer_and_asymmetric_uint8_entry():
    obs = MinMaxObserver()
    obs.update(np.array([-1.0, 3.0], np.float32))
    lo, hi = obs.range()
    e = activation_entry("t", lo, hi, "uint8")
    q = e.apply(np.array([-1.0, 0.0, 3.0], np.float32))
    assert q[1] == 0.0  # zero is exact
    assert abs(q[0] + 1.0) <= float(e.scale) / 2 and abs(q[2] - 3.0) <= float(e.scale) / 2
