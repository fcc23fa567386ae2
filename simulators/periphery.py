"""Periphery calibration as chips do it after programming, and the drift-compensation read-outs.

Each option is a field of `PeripheryCalibration` (in `CrossbarConfig.calibration`) or a `drift_compensation` mode:
- input_ranges: one fixed DAC input range per tile row block, the `percentile` of |x| over calibration inputs,
  instead of dividing every input vector by its own max |x| (which needs a max unit per vector). Static input
  ranges calibrated per layer are what Rasch et al., "Hardware-aware training for large-scale and diverse deep
  learning inference workloads using in-memory computing-based accelerators", Nat. Commun. 14, 5282 (2023) deploy.
- adc_ranges: a full scale per ADC column, the `percentile` of |partial sum| over calibration inputs, so every
  column uses its ADC's codes (a preset's one full scale fits the largest column only).
- affine: a per-column y = a * y_analog + b fitted by least squares against the exact x @ W on calibration inputs,
  the digital affine correction per column of IBM's HERMES chip (Le Gallo et al., "A 64-core mixed-signal
  in-memory compute chip based on phase-change memory for deep neural network inference", Nat. Electron. 6,
  680-693 (2023)).
Drift compensation (`CrossbarConfig.drift_compensation`) rescales each tile by read-out(t=0) / read-out(t):
- "all_ones": sum over columns of |column sum| of an all-ones read (edgeq's original read-out);
- "mean_abs": mean |W| from one-hot reads, noise-free, of the programmed tile right after programming and at t.
  Not aihwkit's GlobalDriftCompensationWithExactReference: that one takes the unprogrammed target weights as its
  reference and reads the tile at t through the noisy periphery, so the programming noise of each pair's G_min
  device (clipped at 0, it lowers every programmed |w|) makes its outputs about 2% high at every t (measured in
  benchmarks/bench_aihwkit.py, docs/crossbar.md);
- "mean_abs_noisy": the same through the noisy tile, read noise and ADC included, at programming and at t
  (aihwkit's GlobalDriftCompensation, src/aihwkit/inference/compensation/drift.py; compensation factors within
  1% of aihwkit 1.2.0's on the same layer, bench_aihwkit.py);
- "per_column": one factor per column from one-hot reads, noise-free (aihwkit's PerColumnDriftCompensation reads
  the same through the noisy tile; not compared in bench_aihwkit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeq.errors import ConfigError

from .adc import ADCConfig, quantize_output

__all__ = ["DRIFT_COMPENSATIONS", "PeripheryCalibration", "affine_fit", "column_ranges", "drift_readout",
           "input_range"]

DRIFT_COMPENSATIONS = ("none", "all_ones", "mean_abs", "mean_abs_noisy", "per_column")


@dataclass(frozen=True)
class PeripheryCalibration:
    """What a chip calibrates from calibration inputs right after programming (see the module docstring)."""

    input_ranges: bool = False
    """Fixed DAC input range per tile row block from data (Rasch et al. 2023)."""
    adc_ranges: bool = False
    """ADC full scale per column from calibration partial sums."""
    affine: bool = False
    """Per-column affine output correction against exact x @ W (HERMES, Le Gallo et al. 2023)."""
    percentile: float = 99.99
    """Percentile of |x| and |partial sum| over the calibration inputs that sets a range."""
    headroom: float = 2.0
    """ADC full scale = headroom x that percentile of |partial sum|: a few calibration inputs underestimate the
    tail, and a clipped partial sum costs more than a coarser step. On the digits CNN with ideal devices, 32
    calibration samples: 1.25 -> 23.6 / 37.4 dB, 2 -> 34.0 / 36.9 dB (first 32 eval / 32 calib samples), against
    32.3 dB for one full scale of 12."""
    samples: int = 2048
    """Calibration input vectors used per array at most (a deterministic subsample)."""

    def __post_init__(self) -> None:
        if not 50.0 <= self.percentile <= 100.0:
            raise ConfigError(f"calibration percentile must be in [50, 100], got {self.percentile}")
        if not 1.0 <= self.headroom <= 16.0:
            raise ConfigError(f"calibration headroom must be in [1, 16], got {self.headroom}")
        if self.samples < 1:
            raise ConfigError(f"calibration samples must be >= 1, got {self.samples}")

    @property
    def active(self) -> bool:
        """True when any option is on."""
        return self.input_ranges or self.adc_ranges or self.affine


def input_range(x: np.ndarray, percentile: float) -> float:
    """Return the DAC full-scale input for calibration inputs x (rows, features): a percentile of |x|, 1 if zero."""
    r = float(np.percentile(np.abs(x), percentile)) if x.size else 0.0
    return r if r > 0.0 else 1.0


def column_ranges(partial_sums: np.ndarray, percentile: float, floor: float) -> np.ndarray:
    """Return per-column ADC full scales (float64) from normalized partial sums (rows, cols), at least `floor`."""
    r = np.percentile(np.abs(partial_sums), percentile, axis=0)
    return np.maximum(r, floor).astype(np.float64)


def affine_fit(y_analog: np.ndarray, y_exact: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per-column (a, b) minimizing sum (a y_analog + b - y_exact)^2; (1, 0) for a constant column."""
    ya, ye = y_analog.astype(np.float64), y_exact.astype(np.float64)
    ma, me = ya.mean(axis=0), ye.mean(axis=0)
    var = ((ya - ma) ** 2).mean(axis=0)
    cov = ((ya - ma) * (ye - me)).mean(axis=0)
    a = np.where(var > 1e-30, cov / np.where(var > 1e-30, var, 1.0), 1.0)
    b = np.where(var > 1e-30, me - a * ma, 0.0)
    return a.astype(np.float32), b.astype(np.float32)


def drift_readout(wn: np.ndarray, mode: str, variance: np.ndarray | float = 0.0, adc: ADCConfig | None = None,
                  rng: np.random.Generator | None = None) -> float | np.ndarray:
    """Return one tile's drift read-out of normalized weights wn (rows, cols) under `mode` (module docstring);
    the noisy mode draws read noise of `variance` (per weight or uniform) from rng and digitizes with `adc`."""
    w = wn.astype(np.float64)
    if mode == "all_ones":
        return float(np.abs(w.sum(axis=0)).sum())
    if mode == "mean_abs":
        return float(np.abs(w).mean())
    if mode == "per_column":
        return np.abs(w).mean(axis=0)
    if mode == "mean_abs_noisy":  # one-hot read of row i gives column j: w_ij + read noise, then the ADC
        y = w + np.sqrt(np.maximum(variance, 0.0)) * rng.standard_normal(w.shape)
        y = quantize_output(y, adc) if adc is not None else y
        return max(float(np.abs(y).mean()), 1e-4)  # aihwkit clamps its read-out at 1e-4
    raise ConfigError(f"drift compensation {mode!r} unknown; choose one of {', '.join(DRIFT_COMPENSATIONS)}")
