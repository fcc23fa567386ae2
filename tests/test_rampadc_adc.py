"""Ramp ADC: exact quantisation when ideal, monotonicity, kernel twins, and noise statistics as configured."""

from __future__ import annotations

import numpy as np
import pytest
from edgeq.simulators.devices import ConductanceRange, DeviceConfig, Drift, ProgrammingNoise, ReadNoise
from edgeq.simulators.ramp_adc import LinearLutADC, RampADC, RampADCConfig, get_preset
from edgeq.simulators.ramp_functions import NAMED
from edgeq.simulators.ramp_kernels import pad_table, pad_thresholds, ramp_convert

from edgeq.errors import UserError

FUNCTIONS = sorted(NAMED)
BITS = [3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("bits", BITS)
def test_ideal_ramp_switches_exactly_at_midpoint_thresholds(function: str, bits: int) -> None:
    adc = RampADC(RampADCConfig(bits=bits, function=function))
    levels, thr = adc.levels, adc.thresholds
    assert levels.size == 2**bits and thr.size == 2**bits - 1
    # thresholds are f^-1 of the level midpoints
    f = NAMED[function].f
    np.testing.assert_allclose(f(thr), 0.5 * (levels[1:] + levels[:-1]), rtol=1e-9, atol=1e-12)
    ramp = adc.program(1)
    t32 = thr.astype(np.float32)
    at = ramp.convert(t32[:, None])[:, 0]
    below = ramp.convert(np.nextafter(t32, np.float32(-np.inf))[:, None])[:, 0]
    np.testing.assert_array_equal(at, levels[1:].astype(np.float32))
    np.testing.assert_array_equal(below, levels[:-1].astype(np.float32))


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("bits", [3, 5, 8])
def test_ideal_ramp_is_nearest_level_of_f(function: str, bits: int) -> None:
    adc = RampADC(RampADCConfig(bits=bits, function=function))
    lo, hi = NAMED[function].x_range
    x = np.random.default_rng(0).uniform(lo - 1, hi + 1, 20000)
    x = x[np.min(np.abs(x[:, None] - adc.thresholds[None, :]), axis=1) > 1e-5]  # away from ties
    out = adc.program(1).convert(x.astype(np.float32)[:, None])[:, 0]
    fx = NAMED[function].f(x.astype(np.float32).astype(np.float64))
    nearest = adc.levels[np.argmin(np.abs(fx[:, None] - adc.levels[None, :]), axis=1)]
    np.testing.assert_array_equal(out, nearest.astype(np.float32))
    assert np.all(np.diff(out[np.argsort(x)]) >= 0), "ideal ramp output must be monotone in the input"


@pytest.mark.parametrize("preset", ["ideal", "chip", "noisy"])
def test_noisy_ramp_thresholds_stay_ascending_in_every_sweep(preset: str) -> None:
    adc = RampADC(get_preset(preset, bits=6))
    ramp = adc.program(1, np.random.default_rng(1))
    thr = ramp.thresholds(64, np.random.default_rng(2))
    assert np.all(np.diff(thr, axis=1) >= -1e-12)  # zero-conductance steps may round by an ulp


def test_monotone_in_input_with_fixed_errors() -> None:
    cfg = get_preset("noisy", bits=5, comparator_noise=0.0)
    ramp = RampADC(cfg).program(1, np.random.default_rng(0))
    x = np.linspace(-5, 5, 5001, dtype=np.float32)[:, None]
    # each row is its own sweep with its own read noise, so check monotonicity within one ramp draw
    thr = ramp.thresholds(1, np.random.default_rng(1))
    out = np.asarray(ramp.table)[np.searchsorted(thr[0], x[:, 0] - ramp.column_offset[0], side="right")]
    assert np.all(np.diff(out) >= 0)


@pytest.mark.parametrize("bits", [3, 5, 8])
@pytest.mark.parametrize("per_row", [False, True])
@pytest.mark.parametrize("noisy", [False, True])
def test_numba_kernel_matches_numpy_twin(bits: int, per_row: bool, noisy: bool) -> None:
    rng = np.random.default_rng(bits)
    adc = RampADC(RampADCConfig(bits=bits, function="sigmoid"))
    n, c = 37, 19
    y = rng.normal(0, 3, (n, c)).astype(np.float32)
    base = adc.thresholds[None, :]
    thr = base + (rng.normal(0, 0.01, (n, 1)) if per_row else 0)
    thr = pad_thresholds(np.sort(thr, axis=1))
    table = pad_table(adc.levels, thr.shape[1])
    gain = rng.uniform(0.5, 2, c).astype(np.float32)
    off = rng.normal(0, 0.1, c).astype(np.float32)
    noise = rng.normal(0, 0.05, (n, c)).astype(np.float32) if noisy else None
    a = ramp_convert(y, gain, off, noise, thr, table, backend="numba")
    b = ramp_convert(y, gain, off, noise, thr, table, backend="numpy")
    np.testing.assert_array_equal(a, b)


def _flat_device(prog_sigma: float = 0.0, read_sigma: float = 0.0) -> DeviceConfig:
    """A device with state-independent programming and read noise, sigma as a fraction of g_max."""
    return DeviceConfig(
        name="flat",
        conductance=ConductanceRange(0.0, 25.0),
        programming=ProgrammingNoise(coeffs_us=(prog_sigma * 25.0,) if prog_sigma else (), coeff_g_max_us=25.0),
        read=ReadNoise(constant=read_sigma),
    )


def test_programming_noise_statistics_match_the_device_model() -> None:
    sigma = 0.03
    adc = RampADC(RampADCConfig(bits=8, function="tanh", device=_flat_device(prog_sigma=sigma)))
    target = adc.step_heights / adc.step_heights.max()
    big = target > 6 * sigma  # smaller steps are clipped at zero conductance, which biases them
    errs = np.concatenate([adc.program(1, np.random.default_rng(s)).conductances[big] - target[big] for s in range(80)])
    assert abs(errs.mean()) < 4 * sigma / np.sqrt(errs.size)
    assert errs.std() == pytest.approx(sigma, rel=0.05)
    rram = RampADC(RampADCConfig(bits=5, device="rram")).program(1, np.random.default_rng(0))
    assert not np.array_equal(rram.conductances, RampADC(RampADCConfig(bits=5)).step_heights / adc.step_heights.max())


def test_read_and_comparator_noise_statistics_match_config() -> None:
    read, comp, off = 0.02, 0.05, 0.1
    cfg = RampADCConfig(bits=6, function="tanh", device=_flat_device(read_sigma=read), comparator_noise=comp,
                        comparator_offset=off)
    ramp = RampADC(cfg).program(4000, np.random.default_rng(0))
    assert np.std(ramp.column_offset) == pytest.approx(off, rel=0.05)
    # read noise: spread of each step's conductance (relative to g_max) across sweeps
    thr = ramp.thresholds(5000, np.random.default_rng(1))
    steps = np.diff(thr, axis=1) / ramp.step_unit - ramp.conductances[None, :]
    big = ramp.conductances > 4 * read  # small steps are clipped at zero
    assert np.std(steps[:, big]) == pytest.approx(read, rel=0.05)
    # comparator noise: the fraction of conversions passing a threshold follows the Gaussian CDF
    cfg = RampADCConfig(bits=6, function="tanh", comparator_noise=comp)
    ramp = RampADC(cfg).program(1000, np.random.default_rng(0))
    t = np.float32(RampADC(cfg).thresholds[40])
    x = np.full((200, 1000), t + comp, np.float32)  # one sigma above the threshold
    out = ramp.convert(x, np.random.default_rng(2))
    frac_up = np.mean(out >= np.float32(RampADC(cfg).levels[41]))
    assert frac_up == pytest.approx(0.8413, abs=0.01)


def test_calibration_removes_gain_error_of_programming() -> None:
    spans = {}
    for cal in (0, 5):
        adc = RampADC(RampADCConfig(bits=5, function="tanh", device=_flat_device(prog_sigma=0.05), calibration_devices=cal))
        target = adc.thresholds[-1] - adc.thresholds[0]
        spans[cal] = np.std(
            [adc.program(1, np.random.default_rng(s)).thresholds(1, None)[0, -1] - adc.thresholds[0] - target
             for s in range(200)]
        )
    assert spans[5] < 0.3 * spans[0]


def test_drift_shrinks_the_ramp() -> None:
    drift = Drift(t0_s=1.0, nu_mean=0.05)
    device = DeviceConfig(name="drifting", conductance=ConductanceRange(0.0, 25.0), drift=drift)
    adc = RampADC(RampADCConfig(bits=4, device=device, t_seconds=999.0))
    g = adc.program(1, np.random.default_rng(0)).conductances
    np.testing.assert_allclose(g, adc.step_heights / adc.step_heights.max() * 1000.0**-0.05)


def test_piecewise_monotone_callable_and_errors() -> None:
    adc = RampADC(RampADCConfig(bits=4, x_range=(-3.0, 3.0)), function=lambda x: x * x)
    assert adc.quantiser.n_pieces == 2
    x = np.random.default_rng(0).uniform(-3, 3, 5000)
    x = x[np.min(np.abs(x[:, None] - adc.thresholds[None, :]), axis=1) > 1e-6]
    fx = x * x
    nearest = adc.levels[np.argmin(np.abs(fx[:, None] - adc.levels[None, :]), axis=1)]
    np.testing.assert_allclose(adc.quantise(x), nearest)
    with pytest.raises(UserError, match="monotone pieces"):
        RampADC(RampADCConfig(bits=4, x_range=(-10.0, 10.0)), function=np.sin)
    with pytest.raises(UserError, match="x_range"):
        RampADC(RampADCConfig(bits=4), function=np.sin)
    with pytest.raises(UserError, match="unknown ramp function"):
        RampADC(RampADCConfig(function="gelu"))
    with pytest.raises(UserError, match="bits"):
        RampADCConfig(bits=0)
    with pytest.raises(UserError, match="rng"):
        RampADC(get_preset("noisy")).program(4)


def test_decreasing_callable_is_a_reversed_table() -> None:
    adc = RampADC(RampADCConfig(bits=3, x_range=(-4.0, 4.0)), function=lambda x: -np.tanh(x))
    x = np.linspace(-4, 4, 1001)
    out = adc.program(1).convert(x.astype(np.float32)[:, None])[:, 0]
    assert np.all(np.diff(out) <= 0)


def test_linear_lut_adc_is_uniform_and_saturates() -> None:
    lin = LinearLutADC(5, "tanh")
    x = np.array([-100.0, lin.lo, lin.hi, 100.0], np.float32)
    out = lin.convert(x)
    assert out[0] == out[1] == np.float32(np.tanh(lin.lo))
    assert out[2] == out[3] == np.float32(np.tanh(lin.hi))
    xs = np.linspace(lin.lo, lin.hi, 10001)
    assert np.max(np.abs(lin.convert(xs) - np.tanh(xs))) <= lin.step / 2 + 1e-6  # |tanh'| <= 1


def test_linear_lut_kernel_matches_numpy_twin() -> None:
    lin = LinearLutADC(6, "sigmoid")
    x = np.random.default_rng(0).normal(0, 6, (33, 17)).astype(np.float32)
    x[0, 0] = np.nan
    np.testing.assert_array_equal(lin.convert(x, backend="numba"), lin.convert(x, backend="numpy"))


def _threshold_rms_error(preset: str, bits: int, chips: int = 100) -> np.ndarray:
    """RMS over programmed chips of each threshold's error, in units of the mean ramp step."""
    adc = RampADC(get_preset(preset, bits=bits))
    ideal = adc.thresholds
    errors = [adc.program(1, np.random.default_rng(s)).thresholds(1, None, read_noise=False)[0] - ideal
              for s in range(chips)]
    return np.sqrt(np.mean(np.square(errors), axis=0)) / np.diff(ideal).mean()


def test_cumulative_verify_stops_ramp_errors_from_accumulating():
    plain, verified = _threshold_rms_error("chip", 8), _threshold_rms_error("chip_verified", 8)
    middle = slice(len(plain) // 4, 3 * len(plain) // 4)
    # unverified, threshold k carries k devices' errors; verified, about one device's error everywhere
    assert verified[middle].mean() < 0.4 * plain[middle].mean()
    assert verified[middle].max() < 2 * verified[middle].mean()
    ideal = RampADC(RampADCConfig(bits=6, cumulative_verify=True))
    np.testing.assert_array_equal(ideal.program(3).thresholds(1, None)[0], ideal.thresholds)
