"""Periphery calibration (DAC input ranges, per-column ADC ranges, affine correction) and drift read-outs."""

import dataclasses

import numpy as np
import pytest
from edgeq.simulators import ADCConfig, Drift, TileConfig, get_preset, program
from edgeq.simulators.periphery import PeripheryCalibration, affine_fit, drift_readout

from edgeq.errors import ConfigError
from edgeq.metrics import sqnr_db


def _rng(seed=0):
    return np.random.default_rng(seed)


def _cfg(base="ideal_adc8", **kw):
    return dataclasses.replace(get_preset(base), **kw)


def test_adc_ranges_per_column_beat_one_full_scale():
    """Columns with small partial sums waste most of a 12-wide ADC; per-column ranges use every code."""
    w = _rng(0).standard_normal((128, 32)) * np.linspace(0.05, 1.0, 32)  # columns of very different size
    x = _rng(1).standard_normal((400, 128)).astype(np.float32)
    ref = x @ w
    plain = program(w, _cfg(), _rng(2))
    cal = program(w, _cfg(calibration=PeripheryCalibration(adc_ranges=True, headroom=1.25)), _rng(2))
    cal.calibrate(x[:200], _rng(3))
    assert sqnr_db(ref[200:], cal.matmul(x[200:])) > sqnr_db(ref[200:], plain.matmul(x[200:])) + 3


def test_input_ranges_replace_per_vector_scaling_with_one_range_per_tile():
    w = _rng(4).standard_normal((64, 8))
    x = _rng(5).standard_normal((300, 64)).astype(np.float32)
    cfg = _cfg(calibration=PeripheryCalibration(input_ranges=True, percentile=100.0), tile=TileConfig(32, 8))
    arr = program(w, cfg, _rng(6))
    arr.calibrate(x, _rng(7))
    np.testing.assert_allclose(arr._input_range, [np.abs(x[:, :32]).max(), np.abs(x[:, 32:]).max()], rtol=1e-6)
    y = arr.matmul(x * 4.0)  # inputs beyond the calibrated range clip, as a fixed-range DAC does
    assert sqnr_db(x @ w * 4.0, y) < 10


def test_affine_correction_removes_a_column_gain_and_offset():
    y = _rng(8).standard_normal((500, 6))
    a, b = affine_fit(0.5 * y + 0.3, y)
    np.testing.assert_allclose(a, 2.0, rtol=1e-5)
    np.testing.assert_allclose(b, -0.6, rtol=1e-5, atol=1e-6)
    const_a, const_b = affine_fit(np.ones((10, 2)), y[:10, :2])
    assert np.all(const_a == 1.0) and np.all(const_b == 0.0)


def test_affine_calibration_helps_a_noisy_chip_at_programming_time():
    w = _rng(9).standard_normal((96, 24))
    x = _rng(10).standard_normal((600, 96)).astype(np.float32)
    cfg = get_preset("rram")
    plain = program(w, cfg, _rng(11))
    cal = program(w, dataclasses.replace(cfg, calibration=PeripheryCalibration(affine=True)), _rng(11))
    cal.calibrate(x[:300], _rng(12))
    ref = x[300:] @ w
    assert sqnr_db(ref, cal.matmul(x[300:], 1.0, _rng(13))) > sqnr_db(ref, plain.matmul(x[300:], 1.0, _rng(13)))


@pytest.mark.parametrize("mode", ["all_ones", "mean_abs", "per_column"])
def test_noise_free_readouts_undo_a_uniform_drift_exactly(mode):
    w = _rng(14).uniform(0.2, 1.0, (64, 16))
    x = _rng(15).uniform(0, 1, (50, 64)).astype(np.float32)
    dev = dataclasses.replace(get_preset("ideal").device, drift=Drift(t0_s=20.0, nu_mean=0.1, nu_std=0.0))
    arr = program(w, _cfg("ideal", device=dev, drift_compensation=mode), _rng(16))
    np.testing.assert_allclose(arr.matmul(x, 3.15e7), x @ w, rtol=1e-4)


def test_noisy_readout_is_noisier_than_the_exact_one():
    """aihwkit's read-out goes through read noise and the ADC: its compensation factor scatters over chips."""
    w = _rng(17).standard_normal((256, 64))
    factors = {}
    for mode in ("mean_abs", "mean_abs_noisy"):
        cfg = _cfg("pcm", drift_compensation=mode)
        factors[mode] = [program(w, cfg, _rng(100 + s)).state_at(86400.0).col_scale.mean() for s in range(8)]
    rel = {m: np.std(f) / np.mean(f) for m, f in factors.items()}
    assert rel["mean_abs_noisy"] > rel["mean_abs"], rel


def test_readout_modes_and_config_values():
    w = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert drift_readout(w, "all_ones") == pytest.approx(4.0 + 1.5)
    assert drift_readout(w, "mean_abs") == pytest.approx(6.5 / 4)
    np.testing.assert_allclose(drift_readout(w, "per_column"), [2.0, 1.25])
    q = drift_readout(w, "mean_abs_noisy", 0.0, ADCConfig(bits=3, full_scale=3.0), _rng(0))
    assert q == pytest.approx(np.abs(np.array([1, -2, 3, 0])).mean())  # 3-bit ADC rounds 0.5 to 0 (step 1)
    assert _cfg(drift_compensation=True).drift_compensation == "all_ones"
    assert _cfg(drift_compensation=False).drift_compensation == "none"
    with pytest.raises(ConfigError, match="drift_compensation"):
        _cfg(drift_compensation="magic")
    with pytest.raises(ConfigError, match="percentile"):
        PeripheryCalibration(percentile=10.0)


def test_calibrated_presets_run_end_to_end_and_state_their_calibration_data():
    from edgeq.examples import example_path
    from edgeq.simulators import simulate

    with np.load(example_path("digits_eval.npz")) as d:
        feeds, labels = {"image": d["image"][:200]}, d["labels"][:200]
    model = example_path("digits_cnn.onnx")
    cal = simulate(model, "rram_cal", feeds, labels, [1.0], repeats=2)
    assert "first 32 samples" in cal.calibration and cal.accuracy.min() > 0.95
    again = simulate(model, "rram_cal", feeds, labels, [1.0], repeats=2)
    assert np.array_equal(again.sqnr_db, cal.sqnr_db)  # seeded: the same numbers
    # with ideal devices the converters dominate, and per-column ADC ranges buy several dB on the whole CNN
    with np.load(example_path("digits_calib.npz")) as d:
        calib = {"image": d["image"][:32]}
    plain = simulate(model, "ideal_adc8", feeds, labels, [1.0])
    adc = simulate(model, _cfg(calibration=PeripheryCalibration(adc_ranges=True)), feeds, labels, [1.0], calib=calib)
    assert plain.calibration is None and adc.sqnr_db.mean() > plain.sqnr_db.mean() + 3

