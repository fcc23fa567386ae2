"""Converters at the edges of a crossbar tile: the input DAC (word-line drivers) and the output ADC (column reads).

Units: a tile works on normalized numbers. The DAC maps each sample's slice of the input to x_n in [-1, 1]
(dividing by a per-sample scale, aihwkit's "noise management"), the array computes y_n = x_n @ W_n with
W_n = weights / per-column w_max in [-1, 1], and the ADC digitizes y_n; digital logic multiplies back by the
input and column scales and sums the partial results of the tiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from edgeq.errors import ConfigError

__all__ = ["ADCConfig", "DACConfig", "adc_params", "dac_levels", "quantize_input", "quantize_output"]


@dataclass(frozen=True)
class DACConfig:
    """The input digital-to-analog converter of a tile."""

    bits: int | None = None
    """Signed resolution: x_n is rounded to multiples of 1 / (2^(bits-1) - 1); None = ideal (no rounding)."""
    scaling: Literal["abs_max", "fixed"] = "abs_max"
    """"abs_max": each sample is divided by its own max |x| over the tile's rows (full DAC range always used);
    "fixed": divided by `input_range` and clipped to [-1, 1]."""
    input_range: float = 1.0
    """Input value that maps to full DAC range when scaling == "fixed"."""
    bit_serial: bool = False
    """Apply the input one magnitude bit per cycle (bits - 1 cycles, sign on the line), digitize each cycle and
    shift-add digitally, as bit-serial macros do; needs `bits`. Costs bits - 1 array reads per MVM."""

    def __post_init__(self) -> None:
        if self.bits is not None and not 2 <= self.bits <= 24:
            raise ConfigError(f"DAC bits must be in 2..24 or None, got {self.bits}")
        if self.bit_serial and self.bits is None:
            raise ConfigError("bit_serial inputs need a finite number of DAC bits")
        if self.scaling not in ("abs_max", "fixed"):
            raise ConfigError(f"DAC scaling must be 'abs_max' or 'fixed', got {self.scaling!r}")
        if self.input_range <= 0:
            raise ConfigError("input_range must be > 0")


@dataclass(frozen=True)
class ADCConfig:
    """The output analog-to-digital converter of a tile column (one conversion per partial sum)."""

    bits: int | None = None
    """Signed resolution: 2^bits - 1 levels spaced full_scale / (2^(bits-1) - 1) apart; None = ideal."""
    full_scale: float = 12.0
    """Clipping bound of y_n = x_n @ W_n (normalized units, i.e. in multiples of one full-scale input on one
    full-scale weight); aihwkit's default out_bound is 12 for inference tiles. Ignored when bits is None and
    `clip` is False."""
    clip: bool = True
    """Clip to +-full_scale even when bits is None (saturating sense amplifier)."""

    def __post_init__(self) -> None:
        if self.bits is not None and not 2 <= self.bits <= 24:
            raise ConfigError(f"ADC bits must be in 2..24 or None, got {self.bits}")
        if self.full_scale <= 0:
            raise ConfigError("full_scale must be > 0")


def dac_levels(dac: DACConfig) -> int:
    """Return K, the largest input code (x_n = code / K), or 0 for an ideal DAC."""
    return 0 if dac.bits is None else 2 ** (dac.bits - 1) - 1


def adc_params(adc: ADCConfig) -> tuple[float, float]:
    """Return (lsb, bound) of the ADC in normalized units: lsb 0 = no rounding, bound inf = no clipping."""
    bound = adc.full_scale if (adc.bits is not None or adc.clip) else np.inf
    lsb = 0.0 if adc.bits is None else adc.full_scale / (2 ** (adc.bits - 1) - 1)
    return lsb, bound


def quantize_input(x: np.ndarray, dac: DACConfig) -> tuple[np.ndarray, np.ndarray]:
    """Return (x_n, scale) with x ~= x_n * scale[:, None], x_n in [-1, 1] on the DAC grid (NumPy reference)."""
    x = np.asarray(x, dtype=np.float32)
    if dac.scaling == "abs_max":
        scale = np.max(np.abs(x), axis=1) if x.shape[1] else np.zeros(len(x), np.float32)
        scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
        xn = x / scale[:, None]
    else:
        scale = np.full(len(x), dac.input_range, dtype=np.float32)
        xn = np.clip(x / np.float32(dac.input_range), -1.0, 1.0)
    k = dac_levels(dac)
    if k:
        xn = np.rint(xn * np.float32(k)) / np.float32(k)
    return xn.astype(np.float32), scale


def quantize_output(y: np.ndarray, adc: ADCConfig) -> np.ndarray:
    """Return ADC readings of normalized partial sums y (NumPy reference of the fused kernel's ADC step)."""
    lsb, bound = adc_params(adc)
    y = np.clip(y, -bound, bound)
    return y if lsb == 0.0 else np.rint(y / lsb) * lsb
