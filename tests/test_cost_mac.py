"""The gate-level MAC model against van Baalen et al. Fig. 3, and its energy/area/scaling behaviour."""

import pytest
from edgeq.hw_models import entry, fig3_table, mac_cost
from edgeq.hw_models.gates import array_multiplier

REQUIRED = {"INT8, 27-bit Kulisch", "FP8-E4, FP16 acc", "FP8-E4, FP32 acc"}


def test_fig3_required_gate_counts_within_10_percent():
    rows = {r["mac"]: r for r in fig3_table()}
    for label in REQUIRED:
        assert abs(rows[label]["error"]) <= 0.10, rows[label]


def test_fig3_every_case_within_15_percent_and_order_matches_paper():
    rows = fig3_table()
    assert all(abs(r["error"]) <= 0.15 for r in rows), rows
    ours = sorted(rows, key=lambda r: r["ours_gates"])
    paper = sorted(rows, key=lambda r: r["paper_gates"])
    # the cheapest and the two most expensive MACs are the same ones as in the paper
    assert ours[0]["mac"] == paper[0]["mac"] == "INT8, 27-bit Kulisch"
    assert {r["mac"] for r in ours[-2:]} == {r["mac"] for r in paper[-2:]}


def test_fp8_overhead_vs_int8_matches_headline():
    int8 = mac_cost("int8", "int8", "kulisch").gates
    fp16acc = mac_cost("fp8_e4m3", "fp8_e4m3", "fp16").gates / int8 - 1
    fp32acc = mac_cost("fp8_e4m3", "fp8_e4m3", "fp32").gates / int8 - 1
    assert 0.30 <= fp16acc <= 0.70  # paper: about +53%
    assert 1.50 <= fp32acc <= 2.10  # paper: about +183%


def test_int8_multiplier_reproduces_horowitz_exactly_at_45nm():
    mult = array_multiplier(8, 8)
    cost = mac_cost("int8", "int8", "kulisch", tech="45nm")
    per_gate = cost.energy_pj / cost.gates
    assert mult.gates() * per_gate == pytest.approx(entry("digital", "mult_int8_energy").value, rel=1e-12)
    assert cost.scaling.energy == 1.0 and cost.scaling.area == 1.0


@pytest.mark.parametrize("fmt", ["int4", "int8", "fp8_e4m3", "fp8_e5m2", "fp8_e3m4", "fp8_e2m5", "fp16", "bf16",
                                 "mxfp8_e4m3", "mxint8", "mxfp4"])
def test_every_format_costs_more_at_45nm_than_7nm(fmt):
    at45, at7 = mac_cost(fmt, tech="45nm"), mac_cost(fmt, tech="7nm")
    assert at45.gates == at7.gates > 0
    assert at7.energy_pj == pytest.approx(at45.energy_pj * 0.094)
    assert at7.area_um2 == pytest.approx(at45.area_um2 * 0.059)


def test_narrower_formats_are_cheaper():
    assert mac_cost("int4").gates < mac_cost("int8").gates < mac_cost("fp16").gates
    assert mac_cost("bf16").gates < mac_cost("fp16").gates  # 8x8 vs 11x11 significand multiplier
    # more mantissa bits -> bigger multiplier at the same accumulator
    assert mac_cost("fp8_e5m2", acc_fmt="fp16").gates < mac_cost("fp8_e4m3", acc_fmt="fp16").gates


def test_mx_int8_vs_fp8_ratio_near_published():
    ratio = mac_cost("mxint8").energy_pj / mac_cost("mxfp8_e4m3").energy_pj
    assert abs(ratio / entry("reference", "mxint8_vs_mxfp8_energy_ratio").value - 1) < 0.25


def test_mx_shares_scale_cost_per_block():
    # the per-block float accumulation is amortised: an MX MAC is cheaper than its element MAC into fp32
    assert mac_cost("mxfp8_e4m3").gates < mac_cost("fp8_e4m3", acc_fmt="fp32").gates


def test_blocks_sum_to_total_and_sources_named():
    cost = mac_cost("fp8_e4m3", "fp8_e4m3", "fp16", tech="7nm")
    assert sum(v for _, v in cost.blocks) == pytest.approx(cost.gates)
    assert any("van Baalen" in s for s in cost.sources) and any("Horowitz" in s for s in cost.sources)
    assert any("Stillmaker" in s for s in cost.sources)
    d = cost.to_dict()
    assert d["energy_pj"] == cost.energy_pj and d["scaling"]["to_nm"] == 7.0


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError):
        mac_cost("int8", "int8", "float128")
    with pytest.raises(ValueError):
        mac_cost("int8", tech="3nm")
    with pytest.raises(ValueError):
        mac_cost("nosuchformat")


@pytest.mark.parametrize("exp_bits", [2, 3, 4, 5])
def test_gates_grow_with_mantissa_bits(exp_bits):
    gates = [mac_cost(f"e{exp_bits}m{m}", acc_fmt="fp32").gates for m in range(1, 7)]
    assert all(a < b for a, b in zip(gates, gates[1:])), gates


def test_gates_grow_with_integer_bits_and_accumulator_width():
    gates = [mac_cost(f"int{b}", acc_fmt="int32").gates for b in range(2, 17)]
    assert all(a < b for a, b in zip(gates, gates[1:]))
    assert mac_cost("int8", acc_fmt="int24").gates < mac_cost("int8", acc_fmt="int32").gates
