"""Ramp ADC whose memristor-programmed ramp makes the comparator count a quantised nonlinear function.

Yang et al., "Efficient Nonlinear Function Approximation in Analog Resistive Crossbars for Recurrent Neural
Networks", arXiv 2411.18271: the ramp voltage of a column ADC is built by an extra column of memristors, step k with
conductance proportional to f^-1(y_{k+1}) - f^-1(y_k), so counting ramp steps until the ramp passes the column output
gives the B-bit quantised f directly (their chip: a 5-bit ramp of 32 memristors plus 5 calibration devices).

`RampADC` is the design (function, bits, non-idealities); `RampADC.program(n_columns, rng)` returns one
`ProgrammedRamp`, a chip instance whose ramp memristors carry programming error and drift, whose comparators carry
fixed offsets, and whose `convert` adds read noise per ramp sweep and comparator noise per conversion.
`LinearLutADC` is the usual alternative: a uniform ADC followed by a digital lookup table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from edgeq.errors import UserError

from .ramp_functions import ArrayFn, Quantiser, build_quantiser, function_range, resolve_function
from .ramp_kernels import linear_lut_numba, linear_lut_numpy, pad_table, pad_thresholds, ramp_convert


@dataclass(frozen=True)
class RampADCConfig:
    """Ramp-ADC design and its non-idealities.

    Conductances are relative to the largest ramp step's conductance g_max (= 1); comparator errors are in units of
    the function's input (the column output after the crossbar's digital gain).
    """

    bits: int = 5
    """output bits B: 2^B levels, 2^B - 1 ramp steps (thresholds)."""
    function: str = "tanh"
    """named function (see `ramp_functions.NAMED`); pass a callable to `RampADC` to override."""
    x_range: tuple[float, float] | None = None
    """input span for unbounded functions or to restrict the output range; None: the function's full range."""
    prog_noise: float = 0.0
    """programming error of each ramp memristor: Gaussian sigma relative to g_max, fixed per programmed chip."""
    read_noise: float = 0.0
    """read noise: Gaussian sigma relative to each device's conductance, drawn once per ramp sweep."""
    drift_nu: float = 0.0
    """conductance drift exponent: g(t) = g(t0) (t / t0)^-nu."""
    drift_t_over_t0: float = 1.0
    """time since programming, in units of t0 (1: no drift yet)."""
    g_min_ratio: float = 0.0
    """smallest programmable conductance relative to g_max: smaller steps are programmed to it."""
    calibration_devices: int = 0
    """extra memristors that trim the ramp's span after programming, leaving one device's error (0: no trim)."""
    comparator_offset: float = 0.0
    """sigma of each column comparator's fixed offset, in input units."""
    comparator_noise: float = 0.0
    """sigma of the comparator's noise per conversion, in input units."""

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 10:
            raise UserError(f"ramp ADC bits must be in 1..10 (3-8 are typical), got {self.bits}")
        for name in ("prog_noise", "read_noise", "drift_nu", "g_min_ratio", "comparator_offset", "comparator_noise"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.drift_t_over_t0 < 1.0:
            raise UserError(f"drift_t_over_t0 must be >= 1 (time since programming in t0 units), got {self.drift_t_over_t0}")
        if self.calibration_devices < 0:
            raise UserError(f"calibration_devices must be >= 0, got {self.calibration_devices}")

    @property
    def is_ideal(self) -> bool:
        """Return True when no non-ideality is switched on."""
        return (
            self.prog_noise == 0
            and self.read_noise == 0
            and (self.drift_nu == 0 or self.drift_t_over_t0 == 1.0)
            and self.g_min_ratio == 0
            and self.comparator_offset == 0
            and self.comparator_noise == 0
        )


# Illustrative non-ideality sets (relative units, not fitted to a specific chip): "chip" mirrors the paper's 5-bit
# ramp with 5 calibration devices; the noise levels are a few percent of g_max, the range reported for RRAM.
PRESETS: dict[str, RampADCConfig] = {
    "ideal": RampADCConfig(),
    "chip": RampADCConfig(
        bits=5, prog_noise=0.02, read_noise=0.01, calibration_devices=5, comparator_offset=0.005,
        comparator_noise=0.005,
    ),
    "noisy": RampADCConfig(prog_noise=0.05, read_noise=0.02, comparator_offset=0.01, comparator_noise=0.01),
}


def get_preset(name: str, **overrides: object) -> RampADCConfig:
    """Return a named ramp-ADC preset with optional field overrides (e.g. bits=8)."""
    if name not in PRESETS:
        raise UserError(f"unknown ramp-ADC preset {name!r}; choose one of {sorted(PRESETS)}")
    try:
        return replace(PRESETS[name], **overrides)
    except TypeError as err:
        raise UserError(f"bad ramp-ADC override: {err}") from None


@dataclass(frozen=True)
class ProgrammedRamp:
    """One programmed ramp ADC bank: C columns sharing one memristor ramp."""

    config: RampADCConfig
    quantiser: Quantiser
    conductances: np.ndarray
    """programmed (and drifted, calibrated) ramp-step conductances relative to g_max, [K - 1]."""
    start: float
    """ramp start (first threshold) after calibration, input units."""
    step_unit: float
    """input-units height of a step of conductance g_max."""
    column_offset: np.ndarray
    """fixed comparator offsets [C], input units."""
    table: np.ndarray = field(repr=False)
    """output value per count, float32."""

    @property
    def n_columns(self) -> int:
        """Return the number of columns (comparators) sharing this ramp."""
        return int(self.column_offset.size)

    def thresholds(self, n_sweeps: int, rng: np.random.Generator | None, read_noise: bool = True) -> np.ndarray:
        """Return the ramp's thresholds, [1, K] without read noise or [n_sweeps, K] with a read-noise draw per sweep."""
        g = self.conductances[None, :]
        if read_noise and self.config.read_noise > 0:
            if rng is None:
                raise UserError("read noise is on: pass rng=np.random.default_rng(seed) to convert")
            g = g * (1.0 + self.config.read_noise * rng.standard_normal((n_sweeps, g.shape[1])))
            g = np.maximum(g, 0.0)  # a conductance cannot go negative, so the ramp stays monotone
        # ideal thresholds plus the accumulated step errors, so an ideal ramp reproduces f^-1(midpoints) bit for bit
        target = np.diff(self.quantiser.thresholds) / self.step_unit
        drift = np.concatenate([np.zeros((g.shape[0], 1)), np.cumsum(g - target[None, :], axis=1)], axis=1)
        return self.quantiser.thresholds[None, :] + (self.start - self.quantiser.thresholds[0]) + self.step_unit * drift

    def convert(
        self,
        x: np.ndarray,
        rng: np.random.Generator | None = None,
        gain: np.ndarray | None = None,
        backend: str = "numba",
    ) -> np.ndarray:
        """Return f quantised by this ramp for column values x [..., C] (times an optional per-column gain)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 0 or x.shape[-1] != self.n_columns:
            raise UserError(f"input's last axis must be the {self.n_columns} columns, got shape {x.shape}")
        flat = x.reshape(-1, self.n_columns)
        noise = None
        if self.config.comparator_noise > 0:
            if rng is None:
                raise UserError("comparator noise is on: pass rng=np.random.default_rng(seed) to convert")
            noise = (self.config.comparator_noise * rng.standard_normal(flat.shape)).astype(np.float32)
        thr = pad_thresholds(self.thresholds(flat.shape[0], rng))
        table = pad_table(self.table, thr.shape[1])
        g = np.ones(self.n_columns, np.float32) if gain is None else np.broadcast_to(gain, (self.n_columns,))
        out = ramp_convert(flat, g, self.column_offset, noise, thr, table, backend=backend)
        return out.reshape(x.shape)


class RampADC:
    """A ramp ADC design: the exact quantiser of f at B bits and the non-idealities of its ramp and comparators."""

    def __init__(self, config: RampADCConfig = RampADCConfig(), function: str | ArrayFn | None = None) -> None:
        self.config = config
        self.function: str | ArrayFn = config.function if function is None else function
        self.quantiser = build_quantiser(self.function, config.bits, config.x_range)
        self._f: Callable[[np.ndarray], np.ndarray] = resolve_function(self.function)

    @property
    def thresholds(self) -> np.ndarray:
        """Return the ideal thresholds t_k = f^-1(midpoint of levels k-1, k), ascending, float64."""
        return self.quantiser.thresholds

    @property
    def levels(self) -> np.ndarray:
        """Return the 2^B output levels, evenly spaced over f's range."""
        return self.quantiser.levels

    @property
    def step_heights(self) -> np.ndarray:
        """Return the ideal ramp step heights t_{k+1} - t_k (proportional to the ramp memristor conductances)."""
        return np.diff(self.quantiser.thresholds)

    def quantise(self, x: np.ndarray) -> np.ndarray:
        """Return the exact nearest-level quantised f(x) (the ideal ramp ADC's output), float64."""
        idx = np.searchsorted(self.quantiser.thresholds, np.asarray(x, dtype=np.float64), side="right")
        return self.quantiser.levels[self.quantiser.table[idx]]

    def program(self, n_columns: int, rng: np.random.Generator | None = None) -> ProgrammedRamp:
        """Return one programmed chip instance with C comparators sharing this ramp (draws its fixed errors)."""
        cfg = self.config
        needs_rng = cfg.prog_noise > 0 or cfg.comparator_offset > 0
        if needs_rng and rng is None:
            raise UserError("programming noise or comparator offset is on: pass rng=np.random.default_rng(seed)")
        t = self.quantiser.thresholds
        heights = np.diff(t)
        step_unit = float(heights.max()) if heights.size else 1.0
        target = heights / step_unit if heights.size else heights
        g = np.maximum(target, cfg.g_min_ratio)
        if cfg.prog_noise > 0:
            g = np.maximum(g + cfg.prog_noise * rng.standard_normal(g.shape), 0.0)
        start = float(t[0]) if t.size else 0.0
        if cfg.calibration_devices > 0 and g.size:
            # Trim measured right after programming: the calibration devices rescale the ramp so its span matches
            # the target. They are memristors too, so the span is left off by about one device's programming error
            # (instead of the sqrt(K - 1) devices' errors of an untrimmed ramp).
            residual = cfg.prog_noise * rng.standard_normal() if cfg.prog_noise > 0 else 0.0
            g = g * ((target.sum() + residual) / max(g.sum(), 1e-30))
        if cfg.drift_nu > 0:
            g = g * cfg.drift_t_over_t0 ** (-cfg.drift_nu)
        offsets = np.zeros(n_columns, np.float32)
        if cfg.comparator_offset > 0:
            offsets = (cfg.comparator_offset * rng.standard_normal(n_columns)).astype(np.float32)
        table = self.quantiser.levels[self.quantiser.table].astype(np.float32)
        # the comparator fires when x - offset passes the threshold; the kernel adds -offset to x
        return ProgrammedRamp(cfg, self.quantiser, g, start, step_unit, -offsets, table)


class LinearLutADC:
    """A uniform B-bit ADC over [lo, hi] followed by a digital lookup table of f at the code centres."""

    def __init__(self, bits: int, function: str | ArrayFn, x_range: tuple[float, float] | None = None) -> None:
        if not 1 <= bits <= 12:
            raise UserError(f"linear ADC bits must be in 1..12, got {bits}")
        self.bits = bits
        self.lo, self.hi = function_range(function, x_range)
        self.step = (self.hi - self.lo) / (2**bits - 1)
        self.table = np.asarray(resolve_function(function)(self.lo + self.step * np.arange(2**bits)), dtype=np.float32)

    @property
    def thresholds(self) -> np.ndarray:
        """Return the uniform decision thresholds (midpoints between code centres), float64."""
        return self.lo + self.step * (np.arange(1, 2**self.bits) - 0.5)

    def convert(
        self, x: np.ndarray, rng: np.random.Generator | None = None, noise_sigma: float = 0.0, backend: str = "numba"
    ) -> np.ndarray:
        """Return table[round((x - lo) / step)] with codes clipped to the ADC range; optional input-referred noise."""
        x = np.asarray(x, dtype=np.float32)
        if noise_sigma > 0:
            if rng is None:
                raise UserError("noise is on: pass rng=np.random.default_rng(seed)")
            x = x + np.float32(noise_sigma) * rng.standard_normal(x.shape).astype(np.float32)
        flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1] if x.ndim else 1))
        kernel = linear_lut_numba if backend == "numba" else linear_lut_numpy
        return kernel(flat, np.float32(self.lo), np.float32(1.0 / self.step), self.table).reshape(x.shape)
