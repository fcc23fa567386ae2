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

from .devices import IDEAL_DEVICE, PCM_DEVICE, RRAM_DEVICE, DeviceConfig, DeviceModel
from .ramp_functions import ArrayFn, Quantiser, build_quantiser, function_range, resolve_function
from .ramp_kernels import linear_lut_numba, linear_lut_numpy, pad_table, pad_thresholds, ramp_convert


def _device_config(device: str | DeviceConfig) -> DeviceConfig:
    if isinstance(device, DeviceConfig):
        return device
    if device not in _DEVICES:
        raise UserError(f"unknown ramp device {device!r}; choose one of {sorted(_DEVICES)} or pass a DeviceConfig")
    return _DEVICES[device]


_DEVICES = {"ideal": IDEAL_DEVICE, "rram": RRAM_DEVICE, "pcm": PCM_DEVICE}


@dataclass(frozen=True)
class RampADCConfig:
    """Ramp-ADC design and its non-idealities.

    The ramp memristors are devices of the crossbar simulator (`devices.py`: programming noise, read noise,
    drift, relaxation, faults), so ramp error and MVM error come from one model. The largest ramp step is
    programmed at the device's g_max; comparator errors are in units of the function's input (the column output).
    """

    bits: int = 5
    """output bits B: 2^B levels, 2^B - 1 ramp steps (thresholds)."""
    function: str = "tanh"
    """named function (see `ramp_functions.NAMED`); pass a callable to `RampADC` to override."""
    x_range: tuple[float, float] | None = None
    """input span for unbounded functions or to restrict the output range; None: the function's full range."""
    device: str | DeviceConfig = "ideal"
    """ramp memristor: "ideal", "rram", "pcm" (the crossbar's cited device presets) or any `DeviceConfig`."""
    t_seconds: float = 0.0
    """time since programming (drift, relaxation, accumulated noise of the ramp devices)."""
    calibration_devices: int = 0
    """extra memristors that trim the ramp's span after programming, leaving one device's error (0: no trim)."""
    cumulative_verify: bool = False
    """program-and-verify against the ramp output: step k is programmed, reading the ramp back, to the target
    level minus what steps 1..k-1 achieved, so each threshold is off by one device's error instead of the sum of
    k devices' errors (which grows along the ramp and with the bit width)."""
    comparator_offset: float = 0.0
    """sigma of each column comparator's fixed offset, in input units."""
    comparator_noise: float = 0.0
    """sigma of the comparator's noise per conversion, in input units."""

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 10:
            raise UserError(f"ramp ADC bits must be in 1..10 (3-8 are typical), got {self.bits}")
        for name in ("t_seconds", "comparator_offset", "comparator_noise", "calibration_devices"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0, got {getattr(self, name)}")
        _device_config(self.device)

    @property
    def device_config(self) -> DeviceConfig:
        """Return the ramp memristors' DeviceConfig."""
        return _device_config(self.device)

    @property
    def has_read_noise(self) -> bool:
        """Return True when each ramp sweep reads the devices with noise."""
        read = self.device_config.read
        return read.scale != 0 and (read.constant > 0 or read.one_over_f is not None)

    @property
    def is_ideal(self) -> bool:
        """Return True when no non-ideality is switched on."""
        return self.device_config == IDEAL_DEVICE and self.comparator_offset == 0 and self.comparator_noise == 0


def _scaled_rram(factor: float) -> DeviceConfig:
    prog, read = RRAM_DEVICE.programming, RRAM_DEVICE.read
    return replace(RRAM_DEVICE, name=f"rram_x{factor:g}", programming=replace(prog, scale=factor),
                   read=replace(read, scale=factor))


# "chip": the paper's 5-bit RRAM ramp with 5 calibration devices (RRAM statistics: Wan et al. 2022 via devices.py);
# comparator offset/noise of 0.005 input units are illustrative. "noisy": twice the RRAM noise, larger comparator
# errors. "pcm": PCM ramp devices one hour after programming (drift), calibrated at programming time.
# "chip_verified": "chip" with each step program-and-verified against the ramp output (errors do not accumulate).
PRESETS: dict[str, RampADCConfig] = {
    "ideal": RampADCConfig(),
    "chip": RampADCConfig(device="rram", calibration_devices=5, comparator_offset=0.005, comparator_noise=0.005),
    "noisy": RampADCConfig(device=_scaled_rram(2.0), comparator_offset=0.01, comparator_noise=0.01),
    "pcm": RampADCConfig(device="pcm", t_seconds=3600.0, calibration_devices=5, comparator_offset=0.005,
                         comparator_noise=0.005),
    "chip_verified": RampADCConfig(device="rram", calibration_devices=5, comparator_offset=0.005,
                                   comparator_noise=0.005, cumulative_verify=True),
}


def get_preset(name: str, **overrides: object) -> RampADCConfig:
    """Return a named ramp-ADC preset with optional field overrides (e.g. bits=8)."""
    if name not in PRESETS:
        raise UserError(f"unknown ramp-ADC preset {name!r}; choose one of {sorted(PRESETS)}")
    try:
        return replace(PRESETS[name], **overrides)
    except TypeError as err:
        raise UserError(f"bad ramp-ADC override: {err}") from None


def _program_cumulative(dev: DeviceModel, target_us: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ramp-step conductances (uS) programmed in order, each aimed at the remaining cumulative target.

    Sequential by nature (step k's aim depends on what steps 1..k-1 achieved), so a loop over the <= 1023 steps,
    run once per programmed chip; the random draws are made up front.
    """
    faults = dev.draw_faults(target_us.shape, rng)
    noise = rng.standard_normal(target_us.shape)
    goal = np.cumsum(target_us)
    out = np.empty_like(target_us, dtype=np.float64)
    achieved = 0.0
    for k in range(target_us.size):
        aim = dev.quantize_levels(np.array([max(goal[k] - achieved, 0.0)]))
        sigma = dev.config.programming.sigma_us(aim, dev.g_max)
        g = np.maximum(aim + sigma * noise[k], 0.0)
        out[k] = dev.apply_faults(g, faults[k : k + 1])[0]
        achieved += out[k]
    return out


@dataclass(frozen=True)
class ProgrammedRamp:
    """One programmed ramp ADC bank: C columns sharing one memristor ramp."""

    config: RampADCConfig
    quantiser: Quantiser
    conductances: np.ndarray
    """ramp-step conductances at config.t_seconds (programmed, drifted, calibrated) relative to g_max, [K - 1]."""
    start: float
    """ramp start (first threshold) after calibration, input units."""
    step_unit: float
    """input-units height of a step of conductance g_max."""
    column_offset: np.ndarray
    """fixed comparator offsets [C], input units (added to the column value)."""
    table: np.ndarray = field(repr=False)
    """output value per count, float32."""

    @property
    def n_columns(self) -> int:
        """Return the number of columns (comparators) sharing this ramp."""
        return int(self.column_offset.size)

    def thresholds(self, n_sweeps: int, rng: np.random.Generator | None, read_noise: bool = True) -> np.ndarray:
        """Return the ramp's thresholds, [1, K] without read noise or [n_sweeps, K] with a read-noise draw per sweep."""
        g = self.conductances[None, :]
        if read_noise and self.config.has_read_noise and g.size:
            if rng is None:
                raise UserError("the ramp devices have read noise: pass rng=np.random.default_rng(seed) to convert")
            dev = DeviceModel(self.config.device_config)
            g_us = np.broadcast_to(g * dev.g_max, (n_sweeps, g.shape[1]))
            g = np.maximum(dev.read(g_us, rng), 0.0) / dev.g_max  # a conductance cannot go negative: ramp monotone
        # ideal thresholds plus the accumulated step errors, so an ideal ramp reproduces f^-1(midpoints) bit for bit
        target = np.diff(self.quantiser.thresholds) / self.step_unit
        error = np.concatenate([np.zeros((g.shape[0], 1)), np.cumsum(g - target[None, :], axis=1)], axis=1)
        return self.quantiser.thresholds[None, :] + (self.start - self.quantiser.thresholds[0]) + self.step_unit * error

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
        if not cfg.is_ideal and rng is None:
            raise UserError("the ramp has device or comparator errors: pass rng=np.random.default_rng(seed)")
        dev = DeviceModel(cfg.device_config)
        t = self.quantiser.thresholds
        heights = np.diff(t)
        step_unit = float(heights.max()) if heights.size else 1.0
        target = heights / step_unit
        start = float(t[0]) if t.size else 0.0
        g = target
        if heights.size and cfg.device_config != IDEAL_DEVICE:
            if cfg.cumulative_verify:
                g_prog = _program_cumulative(dev, target * dev.g_max, rng)
            else:
                g_prog = dev.program(target * dev.g_max, rng)  # level rounding, programming noise, faults
            if cfg.calibration_devices > 0:
                # Trim measured right after programming: calibration devices rescale the ramp so its span matches
                # the target. They are memristors too, so the span stays off by about one device's programming
                # error (instead of the accumulated error of all K - 1 steps).
                sigma = float(dev.config.programming.sigma_us(np.array([dev.g_max * target.mean()]), dev.g_max)[0])
                span = target.sum() * dev.g_max + sigma * rng.standard_normal()
                g_prog = g_prog * (span / max(g_prog.sum(), 1e-30))
            nu = dev.drift_coefficients(g_prog, rng)
            g = dev.at_time(g_prog, nu, cfg.t_seconds, rng) / dev.g_max
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
