"""The noisy 8-bit ramp NL-ADC and its fix, by measurement: threshold error, output error, devices and cycles.

    .venv/bin/python benchmarks/ramp_fix.py [--chips 100]
    .venv/bin/python benchmarks/ramp_fix.py --render      # the markdown tables of docs/ramp_adc.md

tanh, RRAM ramp devices. Per preset (chip, chip_verified, chip_multi, chip_two_step) and bits (3, 4, 5, 8), over
`--chips` programmed chips (seeds 0..chips-1, one read-noise sweep per chip for the thresholds):
- threshold error: RMS over the thresholds of (programmed - ideal) / local step, the local step being the mean of
  the ideal steps on either side (so 1.0 = one code off); "static" is without read noise, "per sweep" with one
  read-noise draw (for two-step presets: the effective thresholds of one coarse and one fine sweep);
- output error: `ramp_summary`'s RMS error vs exact tanh (4096 inputs, one sweep per input) and codes differing;
- devices: ramp memristors (without the 5 calibration devices) and cycles per conversion; a cost table adds the
  energy per conversion of the designed ramp (`edgeq.hw_models.adc_cost`: Walden conversion energy plus the ramp
  column's read energy, every device read once per sweep, twice for a two-step ramp).
A second table explains why 8 bits lost to 5 bits with `chip_verified`: the conductance of the smallest (mid-range)
step and the programming and read noise of one device there, in units of that step; the share of programmed
devices below one read sigma and the mean shift and spread of the middle threshold over 500 sweeps (reads are
clipped at zero conductance, so near-zero devices make read noise one-sided); and the threshold error with read
noise or programming noise switched off. Writes benchmarks/results/ramp_fix.json; the last stdout line is JSON:
8-bit per-sweep threshold error per preset.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "ramp_fix.json"
PRESETS = ("chip", "chip_verified", "chip_multi", "chip_two_step")
BITS = (3, 4, 5, 8)


def effective_thresholds(ramp, rng: np.random.Generator | None, read_noise: bool) -> np.ndarray:
    """Return the [K] thresholds one conversion sees (one sweep, or one coarse + one fine sweep)."""
    cfg = ramp.config
    if not cfg.two_step or not read_noise:
        return ramp.thresholds(1, rng, read_noise=read_noise)[0]
    coarse, fine = ramp.two_step_thresholds(1, rng)
    full = np.concatenate([fine[0], np.append(coarse[0], np.nan)[:, None]], axis=1).reshape(-1)
    return full[: 2**cfg.bits - 1]  # group c: its fine thresholds, then the coarse threshold ending it


def local_step(ideal: np.ndarray) -> np.ndarray:
    """Return the mean of the ideal steps on either side of each threshold (one-sided at the ends)."""
    h = np.diff(ideal)
    left = np.concatenate([[h[0]], h])
    right = np.concatenate([h, [h[-1]]])
    return 0.5 * (left + right)


def threshold_errors(config, chips: int) -> dict:
    """Return static and per-sweep RMS threshold errors (in local steps), mean over chips."""
    from edgeq.simulators.ramp_adc import RampADC

    adc = RampADC(config)
    unit = local_step(adc.thresholds)
    static, sweep = [], []
    for seed in range(chips):
        rng = np.random.default_rng(seed)
        ramp = adc.program(1, rng)
        static.append(np.sqrt(np.mean(((effective_thresholds(ramp, None, False) - adc.thresholds) / unit) ** 2)))
        sweep.append(np.sqrt(np.mean(((effective_thresholds(ramp, rng, True) - adc.thresholds) / unit) ** 2)))
    ramp = adc.program(1, np.random.default_rng(0))
    return {"threshold_rms_static": float(np.mean(static)), "threshold_rms_sweep": float(np.mean(sweep)),
            "threshold_rms_sweep_std": float(np.std(sweep)), "devices": ramp.n_devices, "cycles": config.cycles}


def floor_row(bits: int, chips: int) -> dict:
    """Return why chip_verified degrades with bits: the smallest step vs one device's noise, and error by source."""
    from edgeq.simulators.devices import DeviceModel
    from edgeq.simulators.ramp_adc import RampADC, get_preset

    cfg = get_preset("chip_verified", bits=bits)
    dev = DeviceModel(cfg.device_config)
    ramp = RampADC(cfg).program(1, np.random.default_rng(0))
    h = RampADC(cfg).step_heights
    g_min = float(h.min() / ramp.step_unit * dev.g_max)  # uS, the mid-range step
    prog = float(dev.config.programming.sigma_us(np.array([g_min]), dev.g_max)[0])
    read = float(dev.read_sigma(np.array([g_min]))[0])
    # reads are clipped at zero conductance, so devices below about one read sigma make read noise one-sided:
    # measure how many there are and the mean shift and spread of the middle threshold over sweeps
    below, shift, spread = [], [], []
    mid = h.size // 2
    for seed in range(min(chips, 20)):
        r = RampADC(cfg).program(1, np.random.default_rng(seed))
        below.append(np.mean(r.conductances * dev.g_max < read))
        thr = r.thresholds(500, np.random.default_rng(10_000 + seed))[:, mid]
        static = r.thresholds(1, None, read_noise=False)[0, mid]
        shift.append((thr.mean() - static) / h[mid - 1 : mid + 1].mean())
        spread.append(thr.std() / h[mid - 1 : mid + 1].mean())
    d = cfg.device_config
    no_read = replace(d, read=replace(d.read, scale=0.0))
    no_prog = replace(d, programming=replace(d.programming, scale=0.0))
    return {"bits": bits, "smallest_step_us": g_min, "ratio_largest_smallest": float(h.max() / h.min()),
            "programming_sigma_in_steps": prog / g_min, "read_sigma_in_steps": read / g_min,
            "devices_below_read_sigma": float(np.mean(below)), "mid_threshold_read_shift_steps": float(np.mean(shift)),
            "mid_threshold_read_spread_steps": float(np.mean(spread)),
            "threshold_rms_sweep": threshold_errors(cfg, chips)["threshold_rms_sweep"],
            "threshold_rms_no_read_noise": threshold_errors(replace(cfg, device=no_read), chips)["threshold_rms_sweep"],
            "threshold_rms_no_programming_noise":
                threshold_errors(replace(cfg, device=no_prog), chips)["threshold_rms_sweep"]}


def cost_row(bits: int, preset: str) -> dict:
    """Return the designed ramp's devices, cycles and energy per conversion (edgeq.hw_models.adc_cost)."""
    from edgeq.hw_models.analog import adc_cost
    from edgeq.simulators.ramp_adc import RampADC, get_preset

    adc = RampADC(get_preset(preset, bits=bits))
    g_s = adc.device_targets_us() * 1e-6
    c = adc_cost(bits, "memristor_ramp", ramp_conductances_s=g_s, ramp_devices=g_s.size,
                 coarse_bits=adc.config.coarse_bits)
    return {"bits": bits, "preset": preset, "devices": int(g_s.size), "cycles": c.cycles,
            "ramp_conductance_sum_us": float(g_s.sum() * 1e6), "energy_pj": c.energy_pj,
            "ramp_column_pj": c.parts["ramp column"], "conversion_pj": c.parts["conversion"]}


def separate_coarse_column(bits: int) -> dict:
    """Return what a coarse column of its own (not built) would need: its step-size spread and smallest step."""
    from edgeq.simulators.devices import DeviceModel
    from edgeq.simulators.ramp_adc import RampADC, get_preset

    adc = RampADC(get_preset("chip_verified", bits=bits))
    g_max = DeviceModel(adc.config.device_config).g_max
    t = adc.thresholds
    m = 2 ** (bits - bits // 2)
    coarse = np.diff(np.concatenate([[t[0]], t[m - 1 :: m]]))
    return {"bits": bits, "coarse_steps": int(coarse.size),
            "coarse_ratio_largest_smallest": float(coarse.max() / coarse.min()),
            "smallest_coarse_step_us": float(coarse.min() / coarse.max() * g_max), "g_max_us": g_max}


def run(chips: int) -> dict:
    """Return the rows of both tables and the multi-device sweep."""
    from edgeq.simulators.ramp_adc import RampADC, get_preset
    from edgeq.simulators.ramp_report import ramp_summary

    rows = []
    for bits in BITS:
        for preset in PRESETS:
            cfg = get_preset(preset, bits=bits)
            r = ramp_summary(RampADC(cfg), chips, 0)
            rows.append({"bits": bits, "preset": preset, **threshold_errors(cfg, chips),
                         "output_rms": r["chip_rms_error_mean"], "output_rms_std": r["chip_rms_error_std"],
                         "ideal_output_rms": r["ideal_rms_error"], "codes_differing": r["codes_differing_from_ideal"]})
    sweep = []
    for bits in (5, 8):
        for s in (0.0, 0.25, 0.5, 1.0):
            cfg = get_preset("chip_verified", bits=bits, min_step_conductance=s)
            sweep.append({"bits": bits, "min_step_conductance": s, **threshold_errors(cfg, chips),
                          "output_rms": ramp_summary(RampADC(cfg), chips, 0)["chip_rms_error_mean"]})
    return {"function": "tanh", "chips": chips, "rows": rows, "floor": [floor_row(b, chips) for b in BITS],
            "min_step_sweep": sweep, "cost": [cost_row(b, p) for b in BITS for p in PRESETS],
            "separate_coarse_column": separate_coarse_column(8)}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Return markdown table lines."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def render(results: dict) -> str:
    """Return the markdown tables of the results."""
    lines = _table(
        ["bits", "preset", "devices", "cycles", "threshold rms, static", "threshold rms, per sweep", "output rms",
         "codes differing"],
        [[str(r["bits"]), f"`{r['preset']}`", str(r["devices"]), str(r["cycles"]), f"{r['threshold_rms_static']:.2f}",
          f"{r['threshold_rms_sweep']:.2f}", f"{r['output_rms']:.4f} (ideal {r['ideal_output_rms']:.4f})",
          f"{100 * r['codes_differing']:.1f}%"] for r in results["rows"]])
    lines += [""] + _table(
        ["bits", "smallest step (uS)", "largest / smallest", "programming sigma (steps)", "read sigma (steps)",
         "devices below one read sigma", "mid threshold read shift / spread (steps)", "threshold rms",
         "without read noise", "without programming noise"],
        [[str(r["bits"]), f"{r['smallest_step_us']:.2f}", f"{r['ratio_largest_smallest']:.1f}",
          f"{r['programming_sigma_in_steps']:.2f}", f"{r['read_sigma_in_steps']:.2f}",
          f"{100 * r['devices_below_read_sigma']:.0f}%",
          f"{r['mid_threshold_read_shift_steps']:+.2f} / {r['mid_threshold_read_spread_steps']:.2f}",
          f"{r['threshold_rms_sweep']:.2f}", f"{r['threshold_rms_no_read_noise']:.2f}",
          f"{r['threshold_rms_no_programming_noise']:.2f}"] for r in results["floor"]])
    lines += [""] + _table(
        ["bits", "smallest step at (x g_max)", "devices", "threshold rms, per sweep", "output rms"],
        [[str(r["bits"]), "one device per step" if r["min_step_conductance"] == 0 else f"{r['min_step_conductance']:g}",
          str(r["devices"]), f"{r['threshold_rms_sweep']:.2f}", f"{r['output_rms']:.4f}"]
         for r in results["min_step_sweep"]])
    lines += [""] + _table(
        ["bits", "preset", "ramp devices", "cycles", "sum of ramp conductances (uS)", "energy / conversion (pJ)",
         "of which ramp column (pJ)"],
        [[str(r["bits"]), f"`{r['preset']}`", str(r["devices"]), str(r["cycles"]),
          f"{r['ramp_conductance_sum_us']:.0f}", f"{r['energy_pj']:.2f}", f"{r['ramp_column_pj']:.2f}"]
         for r in results["cost"]])
    sc = results["separate_coarse_column"]
    lines += ["", (f"A {sc['bits']}-bit coarse column of its own (not built): {sc['coarse_steps']} coarse steps, "
                   f"largest / smallest {sc['coarse_ratio_largest_smallest']:.1f}, smallest at "
                   f"{sc['smallest_coarse_step_us']:.2f} uS with the largest at g_max ({sc['g_max_us']:g} uS).")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=100)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(RESULTS.read_text())))
        return
    from edgeq.io import write_json

    results = run(args.chips)
    write_json(RESULTS, results)
    print(json.dumps({r["preset"]: round(r["threshold_rms_sweep"], 3) for r in results["rows"] if r["bits"] == 8}))


if __name__ == "__main__":
    main()
