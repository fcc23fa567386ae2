"""The 8-bit ramp fix: multi-device steps and the two-step (coarse-fine) ramp.

Ideal devices: both reproduce the single ramp's thresholds and outputs exactly. Noisy RRAM: over a fixed seed set
their threshold error is below the single ramp's (`chip`, `chip_verified`). Kernel twins agree bit for bit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from edgeq.simulators.analog_activation import ActivationSpec, AnalogActivation
from edgeq.simulators.devices import ConductanceRange, DeviceConfig, ReadNoise
from edgeq.simulators.ramp_adc import RampADC, RampADCConfig, get_preset
from edgeq.simulators.ramp_functions import NAMED
from edgeq.simulators.ramp_kernels import ramp_convert_two_step

from edgeq.errors import UserError

SEEDS = range(8)


def _no_read_noise(cfg: RampADCConfig) -> RampADCConfig:
    d = cfg.device_config
    return replace(cfg, device=replace(d, read=replace(d.read, scale=0.0)))


def _inputs(adc: RampADC) -> np.ndarray:
    t = adc.thresholds
    span = t[-1] - t[0]
    return np.linspace(t[0] - 0.1 * span, t[-1] + 0.1 * span, 6001, dtype=np.float32)[:, None]


@pytest.mark.parametrize("function", sorted(NAMED))
@pytest.mark.parametrize("bits", [2, 3, 5, 8])
def test_ideal_two_step_and_multi_device_equal_the_single_ramp(function: str, bits: int) -> None:
    single = RampADC(RampADCConfig(bits=bits, function=function))
    x = _inputs(single)
    ref = single.program(1).convert(x)
    for cfg in (RampADCConfig(bits=bits, function=function, two_step=True),
                RampADCConfig(bits=bits, function=function, min_step_conductance=0.25, two_step=True),
                RampADCConfig(bits=bits, function=function, min_step_conductance=1.0)):
        ramp = RampADC(cfg).program(1)
        np.testing.assert_array_equal(ramp.convert(x), ref)
        np.testing.assert_array_equal(ramp.convert(x, backend="numpy"), ref)
        np.testing.assert_allclose(ramp.thresholds(1, None)[0], single.thresholds, rtol=0, atol=1e-12)


def test_two_step_effective_thresholds_are_the_single_ramps_within_half_a_step() -> None:
    adc = RampADC(RampADCConfig(bits=8, two_step=True))
    coarse, fine = adc.program(1).two_step_thresholds(1, None)
    m = 2 ** (8 - adc.config.coarse_bits)
    t = adc.thresholds
    np.testing.assert_allclose(coarse[0], t[m - 1 :: m], atol=1e-12)
    effective = np.concatenate([fine[0], np.append(coarse[0], np.nan)[:, None]], axis=1).reshape(-1)[: t.size]
    assert np.max(np.abs(effective - t)) < 0.5 * np.diff(t).min()


@pytest.mark.parametrize("preset", ["chip", "chip_verified"])
def test_two_step_without_read_noise_equals_the_single_ramp_on_the_same_chip(preset: str) -> None:
    cfg = _no_read_noise(get_preset(preset, bits=8, comparator_noise=0.0))
    x = _inputs(RampADC(cfg))
    a = RampADC(cfg).program(3, np.random.default_rng(5)).convert(np.repeat(x, 3, axis=1))
    b = RampADC(replace(cfg, two_step=True)).program(3, np.random.default_rng(5)).convert(np.repeat(x, 3, axis=1))
    np.testing.assert_array_equal(a, b)


def test_cycles_and_coarse_bits() -> None:
    assert RampADCConfig(bits=8).cycles == 256
    assert (RampADCConfig(bits=8, two_step=True).cycles, RampADCConfig(bits=8, two_step=True).coarse_bits) == (32, 4)
    assert RampADCConfig(bits=5, two_step=True).cycles == 4 + 8
    with pytest.raises(UserError):
        RampADCConfig(bits=1, two_step=True)
    with pytest.raises(UserError):
        RampADCConfig(min_step_conductance=1.5)


@pytest.mark.parametrize("bits", [5, 8])
@pytest.mark.parametrize("s", [0.25, 1.0])
def test_multi_device_layout_keeps_every_device_high_and_at_most_g_max(bits: int, s: float) -> None:
    adc = RampADC(RampADCConfig(bits=bits, device="rram", min_step_conductance=s))
    g = adc.device_targets_us() / 40.0
    assert g.max() <= 1.0 + 1e-12
    assert g.min() >= min(s, 0.5) - 1e-12  # a split step puts each device above g_max / 2
    ramp = adc.program(1, np.random.default_rng(0))
    assert ramp.n_devices == g.size == int(ramp.devices_per_step.sum())
    single = RampADC(RampADCConfig(bits=bits, device="rram"))
    assert g.size > single.device_targets_us().size  # the cost: more devices


def test_multi_device_step_read_noise_adds_over_its_devices() -> None:
    read = 0.02
    dev = DeviceConfig(name="flat", conductance=ConductanceRange(0.0, 25.0), read=ReadNoise(constant=read))
    ramp = RampADC(RampADCConfig(bits=6, device=dev, min_step_conductance=1.0)).program(1, np.random.default_rng(0))
    thr = ramp.thresholds(4000, np.random.default_rng(1))
    steps = np.diff(thr, axis=1) / ramp.step_unit - ramp.conductances[None, :]
    n = ramp.devices_per_step
    for k in (n.argmin(), n.argmax()):
        assert np.std(steps[:, k]) == pytest.approx(read * np.sqrt(n[k]), rel=0.08)


def _threshold_rms(cfg: RampADCConfig) -> float:
    """RMS threshold error (in local steps) over SEEDS, one read-noise sweep per chip (both sweeps if two-step)."""
    adc = RampADC(cfg)
    t = adc.thresholds
    h = np.diff(t)
    unit = 0.5 * (np.concatenate([[h[0]], h]) + np.concatenate([h, [h[-1]]]))
    errs = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        ramp = adc.program(1, rng)
        if cfg.two_step:
            coarse, fine = ramp.two_step_thresholds(1, rng)
            eff = np.concatenate([fine[0], np.append(coarse[0], np.nan)[:, None]], axis=1).reshape(-1)[: t.size]
        else:
            eff = ramp.thresholds(1, rng)[0]
        errs.append(np.sqrt(np.mean(((eff - t) / unit) ** 2)))
    return float(np.mean(errs))


@pytest.mark.parametrize("bits", [5, 8])
def test_fix_presets_have_lower_threshold_error_than_the_single_ramp(bits: int) -> None:
    presets = ("chip", "chip_verified", "chip_multi", "chip_two_step")
    err = {p: _threshold_rms(get_preset(p, bits=bits)) for p in presets}
    for fixed in ("chip_multi", "chip_two_step"):
        assert err[fixed] < 0.7 * min(err["chip"], err["chip_verified"]), err
    if bits == 8:
        assert err["chip_multi"] < 1.0, err  # under one code at 8 bits; the single ramp is many codes off
        assert err["chip"] > 5.0, err


@pytest.mark.parametrize("per_row", [False, True])
@pytest.mark.parametrize("noisy", [False, True])
def test_two_step_kernel_matches_numpy_twin(per_row: bool, noisy: bool) -> None:
    rng = np.random.default_rng(3)
    n, c, groups, m = 41, 23, 8, 16
    rows = n if per_row else 1
    # unsorted, overlapping thresholds on purpose: the twins must agree on any input, not only monotone ramps
    coarse = rng.normal(0, 1, (rows, groups - 1)).astype(np.float32)
    fine = rng.normal(0, 1, (rows, groups, m - 1)).astype(np.float32)
    table = rng.normal(0, 1, groups * m).astype(np.float32)
    y = rng.normal(0, 1.5, (n, c)).astype(np.float32)
    y[0, 0] = np.nan
    gain = rng.uniform(0.5, 2, c).astype(np.float32)
    off = rng.normal(0, 0.1, c).astype(np.float32)
    noise = rng.normal(0, 0.05, (n, c)).astype(np.float32) if noisy else None
    a = ramp_convert_two_step(y, gain, off, noise, coarse, fine, table, backend="numba")
    b = ramp_convert_two_step(y, gain, off, noise, coarse, fine, table, backend="numpy")
    np.testing.assert_array_equal(a, b)


def test_noisy_two_step_convert_backends_agree_and_analog_activation_runs() -> None:
    cfg = get_preset("chip_two_step", bits=8)
    ramp = RampADC(cfg).program(16, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(0, 1.5, (32, 16)).astype(np.float32)
    a = ramp.convert(x, np.random.default_rng(2))
    b = ramp.convert(x, np.random.default_rng(2), backend="numpy")
    np.testing.assert_array_equal(a, b)
    assert np.sqrt(np.mean((a - np.tanh(x)) ** 2)) < 0.02
    act = AnalogActivation("tanh", ActivationSpec("ramp", cfg), 16, seed=0)
    out = act.quantise(torch.from_numpy(x)).numpy()  # forward adds exact + (q - exact): float round-off
    assert set(np.unique(out)) <= set(ramp.table.tolist())
    assert np.sqrt(np.mean((out - np.tanh(x)) ** 2)) < 0.02


def test_cost_model_counts_two_step_cycles_and_extra_devices() -> None:
    from edgeq.hw_models.analog import MacroConfig, activation_readout_cost, adc_cost, tile_area_um2

    g = np.full(358, 20e-6)
    single = adc_cost(8, "memristor_ramp", ramp_conductances_s=g, ramp_devices=358)
    two = adc_cost(8, "memristor_ramp", ramp_conductances_s=g, ramp_devices=358, coarse_bits=4)
    assert (single.cycles, two.cycles) == (256, 32)  # the latency win: 2 * 2^(B/2) instead of 2^B
    assert two.parts["ramp column"] == pytest.approx(2 * single.parts["ramp column"])  # coarse + fine sweep
    assert two.parts["conversion"] == single.parts["conversion"]
    assert activation_readout_cost(8, coarse_bits=4).cycles == 32
    assert adc_cost(8, "ramp", coarse_bits=4).cycles == 32
    with pytest.raises(ValueError):
        adc_cost(8, "memristor_ramp", ramp_conductances_s=g)  # 358 cells given, 256 expected
    with pytest.raises(ValueError):
        adc_cost(8, "sar", coarse_bits=4)
    base = tile_area_um2(MacroConfig(adc_kind="memristor_ramp", adc_bits=8))["ramp column"]
    more = tile_area_um2(MacroConfig(adc_kind="memristor_ramp", adc_bits=8, ramp_devices=512))["ramp column"]
    assert more == pytest.approx(2 * base)


def test_ramp_adc_cli_reports_devices_cycles_and_energy() -> None:
    import json

    from click.testing import CliRunner
    from edgeq.cli import cli

    rows = {}
    for preset in ("chip_verified", "chip_two_step"):
        res = CliRunner().invoke(cli, ["ramp-adc", "-b", "8", "--preset", preset, "--chips", "2", "--json"],
                                 standalone_mode=False)
        assert res.exit_code == 0, res.output
        rows[preset] = json.loads(res.output)[0]
    assert (rows["chip_verified"]["cycles"], rows["chip_two_step"]["cycles"]) == (256, 32)
    assert rows["chip_two_step"]["ramp_devices"] > rows["chip_verified"]["ramp_devices"] == 254
    assert rows["chip_two_step"]["ramp_column_pj"] > rows["chip_verified"]["ramp_column_pj"]
    assert rows["chip_two_step"]["chip_rms_error_mean"] < 0.5 * rows["chip_verified"]["chip_rms_error_mean"]
