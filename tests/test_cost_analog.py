"""Analog tile model: data-dependent crossbar energy, ADC/DAC converters, areas, and a published macro."""

import numpy as np
import pytest
from edgeq.hw_models import (
    adc_cost,
    crossbar_read_energy_pj,
    entry,
    macro_throughput_tops,
    macro_tops_per_w,
    tile_area_um2,
    tile_preset,
    tile_read,
)
from edgeq.hw_models.analog import activation_readout_cost, walden_fom_fj

# The factor within which the nl-ramp5 preset must reproduce Yang et al.'s macro efficiency (docs/cost.md):
# the ADC energy comes from a survey-median Walden FOM (the survey's best design is 9x better than its median)
# and the array size and device conductance are our assumptions, not the paper's published design.
YANG_FACTOR = 2.0


def test_crossbar_energy_matches_explicit_sum_gv2t():
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-4, size=(16, 8))
    v = rng.uniform(0, 0.2, size=(5, 16))
    t = 1e-9
    explicit = sum(g[i, j] * v[b, i] ** 2 * t for b in range(5) for i in range(16) for j in range(8))
    assert crossbar_read_energy_pj(g, v, t) == pytest.approx(explicit * 1e12, rel=1e-12)
    assert crossbar_read_energy_pj(g, np.zeros(16), t) == 0.0
    with pytest.raises(ValueError):
        crossbar_read_energy_pj(g, v[:, :3], t)


def test_tile_read_uses_simulator_data_when_given():
    cfg = tile_preset("sar8", rows=4, cols=3)
    g = np.full((4, 3), 1e-5)
    low = tile_read(cfg, conductances_s=g, voltages_v=np.full(4, 0.05)).energy_pj["crossbar"]
    high = tile_read(cfg, conductances_s=g, voltages_v=np.full(4, 0.2)).energy_pj["crossbar"]
    assert high == pytest.approx(16 * low)


def test_adc_walden_and_kinds():
    fom = walden_fom_fj()
    assert fom == pytest.approx(2650 / 64)
    sar5, sar8 = adc_cost(5, "sar"), adc_cost(8, "sar")
    assert sar8.energy_pj == pytest.approx(8 * sar5.energy_pj)  # 2^bits
    assert (sar8.cycles, adc_cost(8, "ramp").cycles) == (8, 256)
    ramp = adc_cost(5, "memristor_ramp", ramp_conductances_s=np.full(32, 1e-5), read_voltage_v=0.2)
    assert ramp.parts["ramp column"] == pytest.approx(32 * 1e-5 * 0.04 * 1e-9 * 1e12)
    with pytest.raises(ValueError):
        adc_cost(5, "flash")
    with pytest.raises(ValueError):
        adc_cost(5, "memristor_ramp", ramp_conductances_s=np.ones(7))


def test_nonlinear_ramp_vs_linear_adc_plus_digital_activation():
    nl = activation_readout_cost(5, "nl_ramp")
    lin = activation_readout_cost(5, "ramp_lut")
    assert nl.total_pj < lin.total_pj  # the ramp column costs less than a digital activation lookup
    assert "digital activation" in lin.energy_pj and lin.cycles == nl.cycles + 1


def test_cell_area_1t1r_vs_passive():
    one, passive = tile_preset("sar8", tech="16nm"), tile_preset("sar8", cell="passive", tech="16nm")
    assert tile_area_um2(one)["cells"] == pytest.approx(12 * tile_area_um2(passive)["cells"])
    f = 16e-3
    assert tile_area_um2(one)["cells"] == pytest.approx(128 * 128 * 2 * 48 * f * f)


def test_throughput_sar_faster_than_ramp():
    assert macro_throughput_tops(tile_preset("sar5")) > macro_throughput_tops(tile_preset("ramp5"))


@pytest.mark.parametrize("key", ["yang_kws_macro_efficiency", "yang_lm_macro_efficiency"])
def test_yang_ramp_adc_macro_efficiency_within_stated_factor(key):
    published = entry("reference", key)
    ours = macro_tops_per_w(tile_preset("nl-ramp5", tech=published.node))
    assert 1 / YANG_FACTOR <= ours / published.value <= YANG_FACTOR, (ours, published.value)


def test_tile_config_rejects_nonsense():
    with pytest.raises(ValueError):
        tile_preset("sar8", rows=0)
    with pytest.raises(ValueError):
        tile_preset("sar8", adc_kind="flash")
    with pytest.raises(ValueError):
        tile_preset("nope")
