"""Ramp ADC whose memristor-programmed ramp makes the comparator count a quantised nonlinear function.

Yang et al., "Efficient Nonlinear Function Approximation in Analog Resistive Crossbars for Recurrent Neural
Networks", arXiv 2411.18271: the ramp voltage of a column ADC is built by an extra column of memristors, step k with
conductance proportional to f^-1(y_{k+1}) - f^-1(y_k), so counting ramp steps until the ramp passes the column output
gives the B-bit quantised f directly (their chip: a 5-bit ramp of 32 memristors plus 5 calibration devices).

`RampADC` is the design (function, bits, non-idealities); `RampADC.program(n_columns, rng)` returns one
`ProgrammedRamp`, a chip instance whose ramp memristors carry programming error and drift, whose comparators carry
fixed offsets, and whose `convert` adds read noise per ramp sweep and comparator noise per conversion.
`LinearLutADC` is the usual alternative: a uniform ADC followed by a digital lookup table.

Beyond the paper (edgeq design choices, measured in benchmarks/ramp_fix.py): multi-device steps
(`min_step_conductance`: no ramp device near the bottom of its range, where a fixed-size read noise exceeds an
8-bit step) and a two-step coarse-fine read of the same devices (`two_step`: 2^Bc + 2^Bf cycles instead of 2^B).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from edgeq.errors import UserError

from .devices import IDEAL_DEVICE, PCM_DEVICE, RRAM_DEVICE, DeviceConfig, DeviceModel
from .ramp_functions import ArrayFn, Quantiser, build_quantiser, function_range, resolve_function
from .ramp_kernels import (
    linear_lut_numba,
    linear_lut_numpy,
    pad_table,
    pad_thresholds,
    ramp_convert,
    ramp_convert_two_step,
)


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
    min_step_conductance: float = 0.0
    """multi-device steps: the fraction of g_max at which the *smallest* ramp step is programmed (0: the paper's
    design, one device per step with the largest step at g_max). When > 0 the ramp's conductance per input unit is
    raised until the smallest step sits at this fraction of g_max; a step that would then exceed g_max is built from
    n = ceil(G / g_max) devices in parallel, each programmed to G / n. Every device then sits in the upper part of
    its range, where programming error and read noise (both roughly a fixed fraction of g_max for RRAM) are small
    compared with the step; the cost is more ramp devices and more ramp-column current (`ramp_devices`)."""
    two_step: bool = False
    """coarse-fine (two-step, subranging) conversion on the same ramp devices: the 2^B - 1 steps are folded into
    2^Bc coarse groups of 2^Bf steps (Bc = B // 2, Bf = B - Bc). Coarse phase: one whole group is switched on per
    cycle and each column keeps the ramp level below its trip point (a per-column hold, as in the two-step
    single-slope ADCs of CMOS image sensors); fine phase: the 2^Bc groups are swept step by step in parallel, each
    column's comparator listening to its own group on top of its held level. 2^Bc + 2^Bf cycles instead of 2^B;
    the programmed thresholds are those of the single ramp, but each phase is a separate read (its own read
    noise)."""
    comparator_offset: float = 0.0
    """sigma of each column comparator's fixed offset, in input units."""
    comparator_noise: float = 0.0
    """sigma of the comparator's noise per conversion, in input units."""

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 10:
            raise UserError(f"ramp ADC bits must be in 1..10 (3-8 are typical), got {self.bits}")
        for name in ("t_seconds", "comparator_offset", "comparator_noise", "calibration_devices",
                     "min_step_conductance"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.min_step_conductance > 1:
            raise UserError(f"min_step_conductance is a fraction of g_max in [0, 1], got {self.min_step_conductance}")
        if self.two_step and self.bits < 2:
            raise UserError("a two-step (coarse-fine) ramp needs bits >= 2")
        _device_config(self.device)

    @property
    def coarse_bits(self) -> int:
        """Return Bc, the coarse bits of a two-step ramp (B // 2; 0 for a single ramp)."""
        return self.bits // 2 if self.two_step else 0

    @property
    def cycles(self) -> int:
        """Return the clock cycles of one conversion: 2^B for a single ramp, 2^Bc + 2^(B - Bc) for a two-step one."""
        if not self.two_step:
            return 2**self.bits
        return 2**self.coarse_bits + 2 ** (self.bits - self.coarse_bits)

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
# "chip_multi" (edgeq design choice, measured in benchmarks/ramp_fix.py): "chip_verified" with multi-device steps,
# the smallest step at g_max / 4 (RRAM programming sigma ~23% of G there, vs ~100% for the 8-bit single ramp's
# 0.57 uS mid-range steps; read noise 1% of g_max = 4% of the step) and larger steps split over parallel devices;
# 8-bit tanh 358 devices instead of 254.
# "chip_two_step" (edgeq design choice): "chip_multi" read coarse-fine, 2^Bc + 2^Bf cycles instead of 2^B.
PRESETS: dict[str, RampADCConfig] = {
    "ideal": RampADCConfig(),
    "chip": RampADCConfig(device="rram", calibration_devices=5, comparator_offset=0.005, comparator_noise=0.005),
    "noisy": RampADCConfig(device=_scaled_rram(2.0), comparator_offset=0.01, comparator_noise=0.01),
    "pcm": RampADCConfig(device="pcm", t_seconds=3600.0, calibration_devices=5, comparator_offset=0.005,
                         comparator_noise=0.005),
    "chip_verified": RampADCConfig(device="rram", calibration_devices=5, comparator_offset=0.005,
                                   comparator_noise=0.005, cumulative_verify=True),
    "chip_multi": RampADCConfig(device="rram", calibration_devices=5, comparator_offset=0.005,
                                comparator_noise=0.005, cumulative_verify=True, min_step_conductance=0.25),
    "chip_two_step": RampADCConfig(device="rram", calibration_devices=5, comparator_offset=0.005,
                                   comparator_noise=0.005, cumulative_verify=True, min_step_conductance=0.25,
                                   two_step=True),
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
    """Return ramp-device conductances (uS) programmed in order, each aimed at the remaining cumulative target.

    Sequential by nature (device k's aim depends on what devices 1..k-1 achieved), so a loop over the ramp's
    devices, run once per programmed chip; the random draws are made up front.
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
    device_conductances: np.ndarray | None = field(default=None, repr=False)
    """each ramp device's conductance relative to g_max, [D] in step order (None: one device per step)."""
    devices_per_step: np.ndarray | None = field(default=None, repr=False)
    """devices in parallel per step, int [K - 1] (None: one each); steps sum their devices' conductances."""

    @property
    def n_devices(self) -> int:
        """Return the number of ramp memristors (calibration devices not counted)."""
        return int(self.conductances.size if self.devices_per_step is None else self.devices_per_step.sum())

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
            g_dev = g if self.device_conductances is None else self.device_conductances[None, :]
            g_us = np.broadcast_to(g_dev * dev.g_max, (n_sweeps, g_dev.shape[1]))
            g = np.maximum(dev.read(g_us, rng), 0.0) / dev.g_max  # a conductance cannot go negative: ramp monotone
            if self.devices_per_step is not None:  # each step reads its devices in parallel: their currents add
                g = np.add.reduceat(g, np.concatenate([[0], np.cumsum(self.devices_per_step)[:-1]]), axis=1)
        # ideal thresholds plus the accumulated step errors, so an ideal ramp reproduces f^-1(midpoints) bit for bit
        target = np.diff(self.quantiser.thresholds) / self.step_unit
        error = np.concatenate([np.zeros((g.shape[0], 1)), np.cumsum(g - target[None, :], axis=1)], axis=1)
        return self.quantiser.thresholds[None, :] + (self.start - self.quantiser.thresholds[0]) + self.step_unit * error

    def two_step_thresholds(self, n_sweeps: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """Return (coarse [R, 2^Bc - 1], fine [R, 2^Bc, 2^Bf - 1]) thresholds of a coarse-fine conversion.

        Coarse threshold c (1..2^Bc - 1) is the single ramp's threshold c * 2^Bf - 1 (0-based), read in the coarse
        sweep. Fine threshold i of group c is the level held at the end of coarse group c - 1 (coarse sweep) plus the
        group's own steps up to threshold c * 2^Bf + i, read in the fine sweep. Without read noise both are the
        single ramp's thresholds.
        """
        bits, bc = self.config.bits, self.config.coarse_bits
        m, groups = 2 ** (bits - bc), 2**bc
        coarse_full = self.thresholds(n_sweeps, rng)
        fine_full = self.thresholds(n_sweeps, rng) if self.config.has_read_noise else coarse_full
        rows = fine_full.shape[0]
        padded = np.concatenate([fine_full, np.zeros((rows, 1))], axis=1).reshape(rows, groups, m)
        held = np.zeros((coarse_full.shape[0], groups))  # level kept per column; group 0 starts at the ramp start
        ref = np.zeros((rows, groups))
        held[:, 1:] = coarse_full[:, m - 1 :: m]
        ref[:, 1:] = fine_full[:, m - 1 :: m]
        fine = padded[:, :, : m - 1] + (held - ref)[:, :, None]
        return coarse_full[:, m - 1 :: m], fine

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
        g = np.ones(self.n_columns, np.float32) if gain is None else np.broadcast_to(gain, (self.n_columns,))
        if self.config.two_step:
            coarse, fine = self.two_step_thresholds(flat.shape[0], rng)
            out = ramp_convert_two_step(flat, g, self.column_offset, noise, coarse, fine, self.table, backend=backend)
            return out.reshape(x.shape)
        thr = pad_thresholds(self.thresholds(flat.shape[0], rng))
        table = pad_table(self.table, thr.shape[1])
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

    def _layout(self) -> tuple[float, np.ndarray, np.ndarray | None, np.ndarray]:
        """Return (step_unit, step targets, devices per step or None, device targets); targets relative to g_max."""
        heights = self.step_heights
        step_unit = float(heights.max()) if heights.size else 1.0
        s = self.config.min_step_conductance
        if s > 0 and np.any(heights > 0):
            # multi-device steps: raise the conductance per input unit so the smallest step sits at the given
            # fraction of g_max (never lower than the single-device design)
            step_unit = min(step_unit, float(heights[heights > 0].min()) / s)
        target = heights / step_unit
        per_step = np.maximum(np.ceil(target - 1e-9), 1).astype(np.int64) if s > 0 else None
        dev_target = target if per_step is None else np.repeat(target / per_step, per_step)
        return step_unit, target, per_step, dev_target

    def device_targets_us(self) -> np.ndarray:
        """Return the designed conductance (uS) of every ramp memristor, in step order (calibration not counted)."""
        return self._layout()[3] * DeviceModel(self.config.device_config).g_max

    def program(self, n_columns: int, rng: np.random.Generator | None = None) -> ProgrammedRamp:
        """Return one programmed chip instance with C comparators sharing this ramp (draws its fixed errors)."""
        cfg = self.config
        if not cfg.is_ideal and rng is None:
            raise UserError("the ramp has device or comparator errors: pass rng=np.random.default_rng(seed)")
        dev = DeviceModel(cfg.device_config)
        t = self.quantiser.thresholds
        heights = np.diff(t)
        step_unit, target, per_step, dev_target = self._layout()
        start = float(t[0]) if t.size else 0.0
        g, g_dev = target, dev_target
        if heights.size and cfg.device_config != IDEAL_DEVICE:
            if cfg.cumulative_verify:
                g_prog = _program_cumulative(dev, dev_target * dev.g_max, rng)
            else:
                g_prog = dev.program(dev_target * dev.g_max, rng)  # level rounding, programming noise, faults
            if cfg.calibration_devices > 0:
                # Trim measured right after programming: calibration devices rescale the ramp so its span matches
                # the target. They are memristors too, so the span stays off by about one device's programming
                # error (instead of the accumulated error of all the ramp's devices).
                sigma = float(dev.config.programming.sigma_us(np.array([dev.g_max * dev_target.mean()]), dev.g_max)[0])
                span = dev_target.sum() * dev.g_max + sigma * rng.standard_normal()
                g_prog = g_prog * (span / max(g_prog.sum(), 1e-30))
            nu = dev.drift_coefficients(g_prog, rng)
            g_dev = dev.at_time(g_prog, nu, cfg.t_seconds, rng) / dev.g_max
            g = g_dev if per_step is None else np.add.reduceat(g_dev, np.concatenate([[0], np.cumsum(per_step)[:-1]]))
        offsets = np.zeros(n_columns, np.float32)
        if cfg.comparator_offset > 0:
            offsets = (cfg.comparator_offset * rng.standard_normal(n_columns)).astype(np.float32)
        table = self.quantiser.levels[self.quantiser.table].astype(np.float32)
        # the comparator fires when x - offset passes the threshold; the kernel adds -offset to x
        return ProgrammedRamp(cfg, self.quantiser, g, start, step_unit, -offsets, table,
                              None if per_step is None else g_dev, per_step)


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
