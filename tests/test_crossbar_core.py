"""Crossbar core: the ideal tile is x @ W, quantization and tiling are exact, noise/drift/faults follow their laws."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from edgeq.simulators import (
    ADCConfig,
    ConductanceRange,
    CrossbarConfig,
    DACConfig,
    DeviceConfig,
    DeviceModel,
    Drift,
    Faults,
    IRDropConfig,
    OneOverFNoise,
    ReadNoise,
    TileConfig,
    get_preset,
    program,
)
from edgeq.simulators.ir_drop import effective_conductance


def _rng(seed=0):
    return np.random.default_rng(seed)


def _device(**kw) -> DeviceConfig:
    return dataclasses.replace(get_preset("ideal").device, **kw)


def _config(device=None, **kw) -> CrossbarConfig:
    cfg = get_preset("ideal")
    if device is not None:
        cfg = dataclasses.replace(cfg, device=device)
    return dataclasses.replace(cfg, **kw)


@pytest.mark.parametrize("mapping", ["differential", "offset"])
def test_ideal_tile_equals_float_matmul(mapping):
    w = _rng(0).standard_normal((300, 90))
    x = _rng(1).standard_normal((33, 300)).astype(np.float32)
    cfg = _config(tile=TileConfig(rows=128, cols=64, mapping=mapping))
    y = program(w, cfg, _rng(2)).matmul(x)
    ref = x.astype(np.float64) @ w
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_tiled_1000x700_equals_untiled_when_ideal():
    w = _rng(3).standard_normal((1000, 700))
    x = _rng(4).standard_normal((20, 1000)).astype(np.float32)
    tiled = program(w, _config(tile=TileConfig(256, 256)), _rng(5))
    whole = program(w, _config(tile=TileConfig(1000, 700)), _rng(5))
    assert len(tiled.row_tiles) == 4 and len(tiled.col_tiles) == 3
    y_t, y_w = tiled.matmul(x), whole.matmul(x)
    np.testing.assert_allclose(y_t, y_w, rtol=1e-5, atol=1e-5 * np.abs(y_w).max())
    np.testing.assert_allclose(y_t, x.astype(np.float64) @ w, rtol=1e-5, atol=1e-5 * np.abs(y_w).max())


def test_level_quantization_only_equals_quantized_matmul():
    levels = 9
    w = _rng(6).standard_normal((200, 40))
    x = _rng(7).standard_normal((16, 200)).astype(np.float32)
    cfg = _config(_device(conductance=ConductanceRange(0.0, 25.0, levels=levels)), tile=TileConfig(128, 32))
    arr = program(w, cfg, _rng(8))
    # reference: |w| / w_max of each tile column rounded to multiples of 1 / (levels - 1)
    wq = np.empty_like(w)
    for a, b in arr.row_tiles:
        w_max = np.abs(w[a:b]).max(axis=0)
        wq[a:b] = np.rint(w[a:b] / w_max * (levels - 1)) / (levels - 1) * w_max
    np.testing.assert_allclose(arr.effective_weights(), wq, rtol=1e-12, atol=1e-12)
    ref = x.astype(np.float64) @ wq
    y = arr.matmul(x)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    assert np.abs(ref - x @ w).max() > 100 * np.abs(y - ref).max()  # the quantization is visible, the error is not


def test_adc_rounds_and_clips_partial_sums_per_tile():
    w = _rng(9).uniform(-1, 1, (64, 8))
    x = _rng(10).uniform(0, 1, (50, 64)).astype(np.float32)
    adc = ADCConfig(bits=5, full_scale=4.0)
    arr = program(w, _config(adc=adc, tile=TileConfig(32, 8)), _rng(11))
    y = arr.matmul(x)
    ref = np.zeros((50, 8))
    for a, b in arr.row_tiles:
        xs = np.abs(x[:, a:b]).max(axis=1, keepdims=True)
        w_max = np.abs(w[a:b]).max(axis=0)
        yn = (x[:, a:b] / xs) @ (w[a:b] / w_max)
        lsb = 4.0 / 15
        ref += np.rint(np.clip(yn, -4, 4) / lsb) * lsb * xs * w_max
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_same_seed_same_bits_and_batch_chunking_does_not_change_noise():
    w = _rng(12).standard_normal((300, 50))
    x = _rng(13).standard_normal((100, 300)).astype(np.float32)
    cfg = get_preset("pcm")
    y1 = program(w, cfg, _rng(1)).matmul(x, 3600.0, _rng(2))
    y2 = program(w, cfg, _rng(1)).matmul(x, 3600.0, _rng(2))
    y3 = program(w, dataclasses.replace(cfg, batch_chunk=7), _rng(1)).matmul(x, 3600.0, _rng(2))
    y4 = program(w, cfg, _rng(9)).matmul(x, 3600.0, _rng(2))
    assert np.array_equal(y1, y2) and np.array_equal(y1, y3)
    assert not np.allclose(y1, y4)


@pytest.mark.parametrize("state_dependent", [False, True])
def test_read_noise_output_variance_matches_sum_sigma2_x2(state_dependent):
    """Chi-square check per column: the sample variance of N noisy reads over the predicted sum_i x_i^2 sigma_ij^2."""
    n_in, n_out, reps = 40, 24, 4000
    read = ReadNoise(one_over_f=OneOverFNoise(q0=0.05)) if state_dependent else ReadNoise(constant=0.05)
    cfg = _config(_device(read=read), tile=TileConfig(64, 64), dac=DACConfig(scaling="fixed", input_range=1.0))
    w = _rng(14).uniform(-1, 1, (n_in, n_out))
    x_one = _rng(15).uniform(-1, 1, n_in).astype(np.float32)
    arr = program(w, cfg, _rng(16))
    y = arr.matmul(np.tile(x_one, (reps, 1)), rng=_rng(17))
    g = arr.conductances_at(0.0)
    span = arr.device.g_max - arr.device.g_min
    sigma2 = (arr.device.read_sigma(g[0]) ** 2 + arr.device.read_sigma(g[1]) ** 2) / span**2
    w_max = np.abs(w).max(axis=0)
    predicted = (x_one.astype(np.float64) ** 2) @ sigma2 * w_max**2
    ratio = y.var(axis=0, ddof=1) / predicted
    bound = 5 * np.sqrt(2 / (reps - 1))  # 5 sigma of the chi-square ratio
    assert np.all(np.abs(ratio - 1) < bound), ratio
    np.testing.assert_allclose(y.mean(axis=0), x_one @ w, atol=5 * np.sqrt(predicted.max() / reps))
    # the test has the power to reject wrong formulas: sum sigma^2 |x| or (sum sigma |x|)^2 fall outside the bound
    for wrong in (np.abs(x_one) @ sigma2 * w_max**2, (np.abs(x_one) @ np.sqrt(sigma2)) ** 2 * w_max**2):
        assert np.any(np.abs(y.var(axis=0, ddof=1) / wrong - 1) > bound)


def test_drift_follows_power_law():
    dev = DeviceModel(_device(drift=Drift(t0_s=20.0, nu_mean=0.06, nu_std=0.01)))
    g0 = np.full(20000, 10.0)
    nu = dev.drift_coefficients(g0, _rng(18))
    assert abs(nu.mean() - 0.06) < 5 * 0.01 / np.sqrt(g0.size) and abs(nu.std() - 0.01) < 0.001
    times = np.array([20.0, 3600.0, 86400.0, 3.15e7])
    ratios = np.array([dev.drift(g0, nu, t) / g0 for t in times])
    np.testing.assert_allclose(np.log(ratios), -np.log((times[:, None] + 20.0) / 20.0) * nu[None, :], rtol=1e-12)
    slope = np.polyfit(np.log((times + 20.0) / 20.0), np.log(np.median(ratios, axis=1)), 1)[0]
    assert abs(slope + 0.06) < 1e-3
    assert np.array_equal(dev.drift(g0, nu, 0.0), g0)


def test_pcm_drift_exponent_depends_on_state_as_nandakumar():
    dev = DeviceModel(get_preset("pcm").device)
    nu_hi = dev.drift_coefficients(np.full(20000, 25.0), _rng(19))
    nu_lo = dev.drift_coefficients(np.full(20000, 0.5), _rng(19))
    assert abs(np.median(nu_hi) - 0.049) < 0.003  # mu clipped to its lower bound at G_max
    assert np.median(nu_lo) > np.median(nu_hi) + 0.02  # low conductances drift faster


def test_fault_rates_within_binomial_bounds_and_deterministic():
    p0, p1, n = 0.02, 0.05, 200_000
    dev = DeviceModel(_device(faults=Faults(stuck_at_gmin=p0, stuck_at_gmax=p1)))
    target = np.full(n, 12.5)
    g = dev.program(target, _rng(20))
    n0, n1 = np.sum(g == dev.g_min), np.sum(g == dev.g_max)
    for count, p in ((n0, p0), (n1, p1)):
        assert abs(count - n * p) < 5 * np.sqrt(n * p * (1 - p)), (count, n * p)
    assert np.array_equal(g, dev.program(target, _rng(20)))
    assert np.sum(g == 12.5) == n - n0 - n1


def test_faults_added_after_programming_break_healthy_devices_at_the_given_rates():
    w = np.random.default_rng(3).standard_normal((300, 200))
    cfg = dataclasses.replace(get_preset("ideal"), device=_device(faults=Faults(stuck_at_gmin=0.01)))
    arr = program(w, cfg, _rng(30))
    before = [f.copy() for f in arr._faults]
    y0 = arr.effective_weights(0.0)
    p0, p1 = 0.03, 0.02
    broken = arr.add_stuck_faults(p0, p1, _rng(31))
    n_healthy = sum(int(np.sum(f == 0)) for f in before)
    assert abs(broken - n_healthy * (p0 + p1)) < 5 * np.sqrt(n_healthy * (p0 + p1))
    g_plus, g_minus = arr.conductances_at(3600.0)
    for old, new, g in zip(before, arr._faults, (g_plus, g_minus)):
        assert np.all(new[old != 0] == old[old != 0])  # earlier faults stay as they were
        assert np.all(g[new == 1] == arr.device.g_min) and np.all(g[new == 2] == arr.device.g_max)
    assert not np.allclose(arr.effective_weights(0.0), y0)  # the cached t = 0 state was dropped
    with pytest.raises(ValueError):
        arr.add_stuck_faults(0.7, 0.7, _rng(32))


def test_programming_noise_matches_polynomial_sigma():
    dev = DeviceModel(get_preset("pcm").device)
    for g_t in (2.0, 12.5, 24.0):
        g = dev.program(np.full(40000, g_t), _rng(21))
        sigma = dev.config.programming.sigma_us(np.array([g_t]), dev.g_max)[0]
        assert abs(g.std() / sigma - 1) < 5 * np.sqrt(1 / (2 * 40000)) + 0.01  # clipping at 0 barely matters here


def _netlist_solve(g, r_word, r_bit):
    """Independent reference: stamp every resistor of the crossbar into a nodal matrix with explicit source nodes,
    then solve once per driven row with spsolve and read the sense-amp currents."""
    n, m = g.shape
    word = lambda i, j: i * m + j
    bit = lambda i, j: n * m + i * m + j
    src = lambda i: 2 * n * m + i
    ground = -1
    resistors = []
    for i in range(n):
        resistors.append((src(i), word(i, 0), 1.0 / r_word))
        for j in range(m):
            resistors.append((word(i, j), bit(i, j), g[i, j] * 1e-6))
            if j + 1 < m:
                resistors.append((word(i, j), word(i, j + 1), 1.0 / r_word))
            if i + 1 < n:
                resistors.append((bit(i, j), bit(i + 1, j), 1.0 / r_bit))
    for j in range(m):
        resistors.append((bit(n - 1, j), ground, 1.0 / r_bit))
    size = 2 * n * m
    mat = sp.lil_matrix((size, size))
    coupling = sp.lil_matrix((size, n))
    for a, b, c in resistors:
        for p, q in ((a, b), (b, a)):
            if p == ground or p >= size:
                continue
            mat[p, p] += c
            if q >= size:
                coupling[p, q - size] += c
            elif q != ground:
                mat[p, q] -= c
    volts = spla.spsolve(mat.tocsc(), coupling.toarray()).reshape(size, n)
    currents = np.array([[volts[bit(n - 1, j), i] / r_bit for j in range(m)] for i in range(n)])
    return currents * 1e6  # uS


@pytest.mark.parametrize("shape,ohm", [((6, 5), 2.0), ((12, 9), 25.0), ((1, 4), 5.0), ((5, 11), 10.0), ((4, 1), 3.0)])
def test_ir_drop_matches_direct_sparse_nodal_solve(shape, ohm):
    g = _rng(22).uniform(0.0, 40.0, shape)
    ref = _netlist_solve(g, ohm, 1.5 * ohm)
    eff = effective_conductance(g, IRDropConfig(ohm, 1.5 * ohm))
    assert np.abs(eff - ref).max() <= 1e-6 * np.abs(ref).max()
    assert np.abs(eff - g).max() > 1e-4 * g.max()  # the drop is there to be matched


def test_ir_drop_is_folded_into_the_array_weights():
    w = _rng(23).standard_normal((20, 6))
    x = _rng(24).standard_normal((5, 20)).astype(np.float32)
    cfg = _config(tile=TileConfig(20, 6)).with_ir_drop(20.0)
    arr = program(w, cfg, _rng(25))
    g_plus = (np.maximum(w, 0) / np.abs(w).max(0)) * 25.0
    g_minus = (np.maximum(-w, 0) / np.abs(w).max(0)) * 25.0
    phys = np.empty((20, 12))
    phys[:, 0::2], phys[:, 1::2] = g_plus, g_minus
    ref = _netlist_solve(phys, 20.0, 20.0)
    w_ref = (ref[:, 0::2] - ref[:, 1::2]) / 25.0 * np.abs(w).max(0)
    np.testing.assert_allclose(arr.effective_weights(), w_ref, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(arr.matmul(x), x.astype(np.float64) @ w_ref, rtol=1e-4, atol=1e-4)
    assert np.abs(w_ref - w).max() > 1e-3


def test_drift_compensation_restores_the_mean_gain():
    w = _rng(26).uniform(0.2, 1.0, (64, 16))
    x = _rng(27).uniform(0, 1, (200, 64)).astype(np.float32)
    dev = _device(drift=Drift(t0_s=20.0, nu_mean=0.1, nu_std=0.0))
    plain = program(w, _config(dev), _rng(28)).matmul(x, 3.15e7)
    comp = program(w, _config(dev, drift_compensation=True), _rng(28)).matmul(x, 3.15e7)
    ref = x @ w
    assert np.mean(plain / ref) < 0.5
    np.testing.assert_allclose(comp, ref, rtol=1e-4)


def test_bit_serial_equals_parallel_without_adc():
    w = _rng(29).standard_normal((70, 12))
    x = _rng(30).standard_normal((9, 70)).astype(np.float32)
    base = _config(dac=DACConfig(bits=6), tile=TileConfig(32, 12))
    serial = dataclasses.replace(base, dac=DACConfig(bits=6, bit_serial=True))
    np.testing.assert_allclose(
        program(w, serial, _rng(31)).matmul(x), program(w, base, _rng(31)).matmul(x), rtol=1e-5, atol=1e-5
    )


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown crossbar preset"):
        get_preset("nope")
    with pytest.raises(ValueError, match="2-D"):
        program(np.zeros(5), get_preset("ideal"), _rng())
    arr = program(np.ones((4, 3)), get_preset("rram"), _rng())
    with pytest.raises(ValueError, match="features"):
        arr.matmul(np.ones((2, 5)))
    with pytest.raises(ValueError, match="rng"):
        arr.matmul(np.ones((2, 4)))
    with pytest.raises(ValueError):
        DACConfig(bit_serial=True)


def test_bit_sliced_weights_equal_the_finer_quantized_matmul():
    w = _rng(32).standard_normal((90, 20))
    x = _rng(33).standard_normal((7, 90)).astype(np.float32)
    arr = program(w, _config(tile=TileConfig(64, 16, weight_slices=2, slice_bits=3)), _rng(34))
    assert len(arr.row_tiles) == 4  # 2 slices x 2 row tiles
    wq = np.empty_like(w)
    for a, b in [(0, 64), (64, 90)]:
        w_max = np.abs(w[a:b]).max(axis=0)
        wq[a:b] = np.rint(w[a:b] / w_max * 63) / 63 * w_max  # 2 slices of 3 bits = 6-bit magnitudes
    np.testing.assert_allclose(arr.effective_weights(), wq, rtol=1e-12, atol=1e-12)
    ref = x.astype(np.float64) @ wq
    np.testing.assert_allclose(arr.matmul(x), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_bit_slicing_makes_few_level_devices_precise():
    """Devices with 4 levels (2 bits): one pair per weight leaves a coarse weight, 3 slices give 6-bit weights."""
    w = _rng(35).standard_normal((128, 32))
    cfg = _config(_device(conductance=ConductanceRange(0.0, 25.0, levels=4)))
    coarse = program(w, cfg, _rng(36)).effective_weights()
    fine = program(
        w, dataclasses.replace(cfg, tile=TileConfig(weight_slices=3, slice_bits=2)), _rng(36)
    ).effective_weights()
    assert np.linalg.norm(fine - w) < 0.1 * np.linalg.norm(coarse - w)
