"""What a ramp NL-ADC design costs in accuracy: ideal error vs f, spread over programmed chips, vs a linear ADC + LUT."""

from __future__ import annotations

import numpy as np

from .ramp_adc import LinearLutADC, RampADC
from .ramp_functions import function_range, resolve_function

_N_POINTS = 4096


def ramp_summary(adc: RampADC, chips: int = 20, seed: int = 0) -> dict:
    """Return a JSON-ready summary: ramp steps and conductance ratio, error vs f, and chip-to-chip error."""
    cfg = adc.config
    f = resolve_function(adc.function)
    lo, hi = function_range(adc.function, cfg.x_range)
    x = np.linspace(lo, hi, _N_POINTS)
    fx = f(x)
    ideal = adc.quantise(x)
    heights = adc.step_heights
    lin = LinearLutADC(cfg.bits, adc.function, (lo, hi))
    lin_out = lin.convert(x.astype(np.float32)).astype(np.float64)
    rng = np.random.default_rng(seed)
    chip_rms, code_flips = [], []
    for _ in range(chips if not cfg.is_ideal else 1):
        ramp = adc.program(1, rng)
        out = ramp.convert(x.astype(np.float32)[:, None], rng)[:, 0].astype(np.float64)
        chip_rms.append(float(np.sqrt(np.mean((out - fx) ** 2))))
        code_flips.append(float(np.mean(out != ideal.astype(np.float32))))
    return {
        "function": adc.function if isinstance(adc.function, str) else getattr(adc.function, "__name__", "callable"),
        "bits": cfg.bits,
        "input_span": [float(lo), float(hi)],
        "ramp_steps": int(adc.thresholds.size),
        "monotone_pieces": adc.quantiser.n_pieces,
        "first_threshold": float(adc.thresholds[0]),
        "last_threshold": float(adc.thresholds[-1]),
        "conductance_ratio_max_min": float(heights.max() / heights.min()) if heights.size else 1.0,
        "ramp_devices": int(adc.device_targets_us().size),
        "cycles": cfg.cycles,
        "ideal_max_abs_error": float(np.max(np.abs(ideal - fx))),
        "ideal_rms_error": float(np.sqrt(np.mean((ideal - fx) ** 2))),
        "linear_lut_max_abs_error": float(np.max(np.abs(lin_out - fx))),
        "linear_lut_rms_error": float(np.sqrt(np.mean((lin_out - fx) ** 2))),
        "chips": len(chip_rms),
        "chip_rms_error_mean": float(np.mean(chip_rms)),
        "chip_rms_error_std": float(np.std(chip_rms)),
        "codes_differing_from_ideal": float(np.mean(code_flips)),
    }
