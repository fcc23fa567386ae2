"""Memristive device models: conductance range and levels, programming noise, read noise, drift, faults.

Every effect is one small frozen dataclass whose fields carry their unit and maths; `DeviceConfig` groups them
and the presets in `crossbar.py` pick values with citations. `DeviceModel` applies a config to conductance
arrays (in microsiemens), so other simulators (ramp-ADC columns, forward-forward layers) program and read single
devices with exactly the statistics the crossbar uses:

    dev = DeviceModel(RRAM_DEVICE)
    g = dev.program(np.full(32, 20.0), rng)        # programmed conductances (uS), noise and faults applied once
    nu = dev.drift_coefficients(g, rng)            # per-device drift exponents, drawn once
    g_t = dev.at_time(g, nu, 3600.0, rng)          # the same devices one hour later (drift + accumulated noise)
    g_read = dev.read(g_t, rng)                    # one noisy read (per-MVM read noise)

Sources of the preset numbers:
- PCM: the statistical model of Nandakumar et al., "Phase-change memory models for deep learning training and
  inference", ICECS 2019, as documented and fitted in IBM aihwkit (`PCMLikeNoiseModel`): programming noise
  polynomial, state-dependent drift exponent, accumulated 1/f read noise, g_max 25 uS, t0 20 s, t_read 250 ns.
- RRAM: Wan et al., "A compute-in-memory chip based on resistive random-access memory", Nature 608, 504 (2022)
  (NeuRRAM), as fitted in aihwkit (`ReRamWan2022NoiseModel`): conductance spread after programming (1 s) and
  after one day, 4th-order polynomials in G/g_max with g_max 40 uS; short-term read noise about 1% of g_max.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from edgeq.errors import ConfigError

__all__ = [
    "IDEAL_DEVICE",
    "PCM_DEVICE",
    "RRAM_DEVICE",
    "STUCK_AT_GMAX",
    "STUCK_AT_GMIN",
    "STUCK_NONE",
    "ConductanceRange",
    "DeviceConfig",
    "DeviceModel",
    "Drift",
    "Faults",
    "OneOverFNoise",
    "ProgrammingNoise",
    "ReadNoise",
    "Relaxation",
]

STUCK_NONE, STUCK_AT_GMIN, STUCK_AT_GMAX = 0, 1, 2


def _poly(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """Return sum_k coeffs[k] x^k (Horner), as float64."""
    out = np.zeros_like(x, dtype=np.float64)
    for c in reversed(coeffs):
        out = out * x + c
    return out


@dataclass(frozen=True)
class ConductanceRange:
    """The conductance window one device is programmed in, and how finely."""

    g_min_us: float = 0.0
    """Lowest programmable conductance G_min in microsiemens (weight 0 maps here on both devices of a pair)."""
    g_max_us: float = 25.0
    """Highest programmable conductance G_max in microsiemens (the largest |weight| of a column maps here)."""
    levels: int | None = None
    """Number of equally spaced programmable levels between G_min and G_max (inclusive); None = continuous target.
    With L levels a differential pair stores |w| / w_max rounded to a multiple of 1 / (L - 1)."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.g_min_us < self.g_max_us):
            raise ConfigError(f"need 0 <= g_min_us < g_max_us, got {self.g_min_us}, {self.g_max_us}")
        if self.levels is not None and self.levels < 2:
            raise ConfigError(f"levels must be >= 2 or None, got {self.levels}")


@dataclass(frozen=True)
class ProgrammingNoise:
    """Gaussian error left after program-and-verify, drawn once per device when the array is programmed.

    G_prog = G_target + sigma(G_target) * N(0, 1), clipped at 0, with
    sigma(G) = (g_max / coeff_g_max_us) * sum_k coeffs_us[k] * (G / g_max)^k   [uS].
    """

    coeffs_us: tuple[float, ...] = ()
    """Polynomial coefficients c_0, c_1, ... in microsiemens (empty = no programming noise)."""
    coeff_g_max_us: float = 25.0
    """The g_max the coefficients were fitted at; sigma scales with g_max / coeff_g_max_us."""
    scale: float = 1.0
    """Multiplier on sigma (0 switches the effect off, 2 doubles it) for sensitivity sweeps."""

    def sigma_us(self, g_us: np.ndarray, g_max_us: float) -> np.ndarray:
        """Return the programming-noise standard deviation (uS) for target conductances g_us."""
        if not self.coeffs_us or self.scale == 0.0:
            return np.zeros_like(g_us, dtype=np.float64)
        sig = _poly(self.coeffs_us, np.asarray(g_us, dtype=np.float64) / g_max_us)
        return np.maximum(sig, 0.0) * (g_max_us / self.coeff_g_max_us) * self.scale


@dataclass(frozen=True)
class OneOverFNoise:
    """1/f conductance noise of PCM (Nandakumar et al. 2019): relative std over an observation window T,

    sigma(G, T) / |G| = Q(G) * sqrt(ln((T + t_read) / (2 t_read))),  Q(G) = min(q0 / max((G/g_max)^a, q_floor), q_max).
    """

    q0: float = 0.0088
    """Noise amplitude q0 (dimensionless) at G = g_max."""
    exponent: float = 0.65
    """State dependence a: lower conductances are relatively noisier, Q ~ (G / g_max)^-a."""
    q_floor: float = 1e-3
    """Lower clip of (G / g_max)^a, so near-zero conductances do not get infinite relative noise."""
    q_max: float = 0.2
    """Upper clip of Q."""
    t_read_s: float = 250e-9
    """Read (integration) time t_read in seconds."""

    def relative_sigma(self, g_rel: np.ndarray, window_s: float) -> np.ndarray:
        """Return sigma / |G| for relative conductances g_rel = G / g_max over a window of window_s seconds."""
        q = np.minimum(self.q0 / np.maximum(np.abs(g_rel) ** self.exponent, self.q_floor), self.q_max)
        log_term = np.log((window_s + self.t_read_s) / (2.0 * self.t_read_s))
        return q * np.sqrt(max(log_term, 0.0))


@dataclass(frozen=True)
class ReadNoise:
    """Noise of each read (each MVM draws it afresh); the crossbar turns it into output noise of variance
    sum_i x_i^2 sigma_ij^2 (one extra GEMM on squares, or a row norm when sigma is the same for all devices).

    sigma_read(G)^2 = (constant * g_max)^2 + (|G| * one_over_f.relative_sigma(G / g_max, mvm_window_s))^2   [uS^2].
    """

    constant: float = 0.0
    """State-independent std as a fraction of g_max (thermal/amplifier noise); aihwkit's ADDITIVE_CONSTANT w_noise."""
    one_over_f: OneOverFNoise | None = None
    """State-dependent 1/f part, observed over `mvm_window_s`; None = off."""
    mvm_window_s: float = 1e-6
    """Time between consecutive reads that the 1/f noise decorrelates over (seconds)."""
    scale: float = 1.0
    """Multiplier on the whole read-noise std (0 = off)."""

    @property
    def state_independent(self) -> bool:
        """True when every device has the same read-noise std (then no GEMM on squares is needed)."""
        return self.one_over_f is None or self.scale == 0.0

    def sigma_us(self, g_us: np.ndarray, g_max_us: float) -> np.ndarray:
        """Return the per-read standard deviation (uS) of devices at conductance g_us."""
        g = np.asarray(g_us, dtype=np.float64)
        var = np.full_like(g, (self.constant * g_max_us) ** 2)
        if self.one_over_f is not None:
            var = var + (np.abs(g) * self.one_over_f.relative_sigma(g / g_max_us, self.mvm_window_s)) ** 2
        return np.sqrt(var) * self.scale


@dataclass(frozen=True)
class Drift:
    """Conductance drift G(t) = G_prog * ((t + t0) / t0)^(-nu), t = seconds since programming ended (aihwkit's
    convention: t0 is the first read after programming). nu is drawn once per device from N(mu, sd) folded at 0:

    mu(G) = clip(nu_mean + nu_mean_log_slope * ln(G / g_max), *nu_mean_bounds),
    sd(G) = clip(nu_std + nu_std_log_slope * ln(G / g_max), *nu_std_bounds).
    """

    t0_s: float = 20.0
    """Reference time t0 in seconds."""
    nu_mean: float = 0.0
    """Mean drift exponent at G = g_max (dimensionless; PCM about 0.05, RRAM about 0)."""
    nu_std: float = 0.0
    """Device-to-device std of nu at G = g_max."""
    nu_mean_log_slope: float = 0.0
    """d mu / d ln(G / g_max): PCM devices at low conductance drift faster."""
    nu_std_log_slope: float = 0.0
    """d sd / d ln(G / g_max)."""
    nu_mean_bounds: tuple[float, float] = (0.0, np.inf)
    """Clip range of mu."""
    nu_std_bounds: tuple[float, float] = (0.0, np.inf)
    """Clip range of sd."""
    accumulated_one_over_f: OneOverFNoise | None = None
    """1/f noise accumulated from programming to t, drawn once per drift time: G += |G(t)| sigma_rel(G, t + t0)."""
    scale: float = 1.0
    """Multiplier on nu (0 = no drift)."""

    @property
    def active(self) -> bool:
        """True when nu can be non-zero."""
        return self.scale != 0.0 and (self.nu_mean != 0.0 or self.nu_std != 0.0 or self.nu_mean_bounds[0] > 0.0)


@dataclass(frozen=True)
class Relaxation:
    """RRAM conductance relaxation: an extra Gaussian spread after programming that grows with log time,

    sigma_relax(G, t) = sqrt(max(s_ref(G)^2 - s_prog(G)^2, 0)) * sqrt(max(ln(t / t_start) / ln(t_ref / t_start), 0)),

    where s_ref is the measured total spread at t_ref and s_prog the programming spread (both polynomials in G/g_max,
    uS). Drawn afresh for each drift time. Wan et al. 2022 report the spread at 1 s and after one day.
    """

    ref_coeffs_us: tuple[float, ...] = ()
    """Polynomial (uS) of the total spread at t_ref; empty = no relaxation."""
    coeff_g_max_us: float = 40.0
    """The g_max the coefficients were fitted at."""
    t_start_s: float = 1.0
    """Time (s) at which the spread equals the programming spread."""
    t_ref_s: float = 86400.0
    """Time (s) at which the spread equals ref_coeffs_us."""
    scale: float = 1.0
    """Multiplier on sigma_relax (0 = off); s_prog here is the unscaled programming spread."""


@dataclass(frozen=True)
class Faults:
    """Devices stuck at G_min or G_max, chosen once per programmed array (independently per device).
    For scale: Chen et al., IEEE Trans. Computers 64(1) 2015 measured 1.75% stuck-at-0 and 9.04% stuck-at-1 cells
    on an unrepaired 4 Mb RRAM chip."""

    stuck_at_gmin: float = 0.0
    """Probability that a device is stuck at G_min (open / high-resistance state)."""
    stuck_at_gmax: float = 0.0
    """Probability that a device is stuck at G_max (short / low-resistance state)."""

    def __post_init__(self) -> None:
        if min(self.stuck_at_gmin, self.stuck_at_gmax) < 0 or self.stuck_at_gmin + self.stuck_at_gmax > 1:
            raise ConfigError("fault rates must be >= 0 and sum to <= 1")


@dataclass(frozen=True)
class DeviceConfig:
    """All the properties of one memristive device type."""

    name: str = "ideal"
    conductance: ConductanceRange = field(default_factory=ConductanceRange)
    programming: ProgrammingNoise = field(default_factory=ProgrammingNoise)
    read: ReadNoise = field(default_factory=ReadNoise)
    drift: Drift = field(default_factory=Drift)
    relaxation: Relaxation = field(default_factory=Relaxation)
    faults: Faults = field(default_factory=Faults)
    citation: str = ""
    """Where the numbers come from."""


IDEAL_DEVICE = DeviceConfig(name="ideal", citation="no non-idealities: the reference for x @ W")

_NANDAKUMAR_1F = OneOverFNoise()
PCM_DEVICE = DeviceConfig(
    name="pcm",
    conductance=ConductanceRange(g_min_us=0.0, g_max_us=25.0),
    programming=ProgrammingNoise(coeffs_us=(0.26348, 1.9650, -1.1731), coeff_g_max_us=25.0),
    read=ReadNoise(one_over_f=_NANDAKUMAR_1F, mvm_window_s=1e-6),
    drift=Drift(
        t0_s=20.0,
        nu_mean=0.0244,
        nu_mean_log_slope=-0.0155,
        nu_mean_bounds=(0.049, 0.1),
        nu_std=-0.0059,
        nu_std_log_slope=-0.0125,
        nu_std_bounds=(0.008, 0.045),
        accumulated_one_over_f=_NANDAKUMAR_1F,
    ),
    citation=(
        "Nandakumar et al., ICECS 2019 (PCM statistical model, 1M-device array), coefficients as in IBM aihwkit "
        "PCMLikeNoiseModel; per-MVM read noise = the same 1/f law over a 1 us read window"
    ),
)

RRAM_DEVICE = DeviceConfig(
    name="rram",
    conductance=ConductanceRange(g_min_us=0.0, g_max_us=40.0),
    programming=ProgrammingNoise(coeffs_us=(0.348, 16.030, -43.853, 45.393, -16.815), coeff_g_max_us=40.0),
    read=ReadNoise(constant=0.01),
    drift=Drift(t0_s=1.0),
    relaxation=Relaxation(ref_coeffs_us=(0.701, 22.086, -50.773, 47.095, -16.458), coeff_g_max_us=40.0),
    citation=(
        "Wan et al., Nature 608, 504 (2022) (NeuRRAM), conductance spread at 1 s and 1 day as fitted in IBM aihwkit "
        "ReRamWan2022NoiseModel; read noise 1% of g_max as aihwkit recommends for it; no power-law drift"
    ),
)


class DeviceModel:
    """Applies a `DeviceConfig` to conductance arrays (uS); every random draw comes from the rng passed in."""

    def __init__(self, config: DeviceConfig) -> None:
        self.config = config

    @property
    def g_min(self) -> float:
        return self.config.conductance.g_min_us

    @property
    def g_max(self) -> float:
        return self.config.conductance.g_max_us

    def quantize_levels(self, g_target_us: np.ndarray) -> np.ndarray:
        """Return targets rounded to the nearest programmable level (unchanged when levels is None)."""
        levels = self.config.conductance.levels
        g = np.clip(np.asarray(g_target_us, dtype=np.float64), self.g_min, self.g_max)
        if levels is None:
            return g
        step = (self.g_max - self.g_min) / (levels - 1)
        return self.g_min + np.rint((g - self.g_min) / step) * step

    def draw_faults(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Return an int8 array of fault codes (STUCK_NONE, STUCK_AT_GMIN, STUCK_AT_GMAX), one per device."""
        f = self.config.faults
        codes = np.zeros(shape, dtype=np.int8)
        if f.stuck_at_gmin == 0.0 and f.stuck_at_gmax == 0.0:
            return codes
        u = rng.random(shape)
        codes[u < f.stuck_at_gmin] = STUCK_AT_GMIN
        codes[(u >= f.stuck_at_gmin) & (u < f.stuck_at_gmin + f.stuck_at_gmax)] = STUCK_AT_GMAX
        return codes

    def program(
        self, g_target_us: np.ndarray, rng: np.random.Generator, faults: np.ndarray | None = None
    ) -> np.ndarray:
        """Return programmed conductances (uS): level rounding, programming noise (clipped at 0), then faults.

        `faults` (from `draw_faults`) is drawn here when not given.
        """
        g = self.quantize_levels(g_target_us)
        sigma = self.config.programming.sigma_us(g, self.g_max)
        if np.any(sigma > 0):
            g = np.maximum(g + sigma * rng.standard_normal(g.shape), 0.0)
        if faults is None:
            faults = self.draw_faults(g.shape, rng)
        return self.apply_faults(g, faults)

    def apply_faults(self, g_us: np.ndarray, faults: np.ndarray) -> np.ndarray:
        """Return g with stuck devices forced to G_min / G_max."""
        g = np.where(faults == STUCK_AT_GMIN, self.g_min, g_us)
        return np.where(faults == STUCK_AT_GMAX, self.g_max, g)

    def drift_coefficients(self, g_prog_us: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return one drift exponent nu per device (drawn once, state-dependent as in `Drift`)."""
        d = self.config.drift
        if not d.active:
            return np.zeros(np.shape(g_prog_us))
        log_g = np.log(np.maximum(np.abs(np.asarray(g_prog_us, dtype=np.float64)) / self.g_max, 1e-7))
        mu = np.clip(d.nu_mean + d.nu_mean_log_slope * log_g, *d.nu_mean_bounds)
        sd = np.clip(d.nu_std + d.nu_std_log_slope * log_g, *d.nu_std_bounds)
        return np.abs(mu + sd * rng.standard_normal(log_g.shape)) * d.scale

    def drift(self, g_prog_us: np.ndarray, nu: np.ndarray, t_s: float) -> np.ndarray:
        """Return the deterministic power-law drift G_prog * ((t + t0) / t0)^(-nu) at t seconds after programming."""
        if t_s <= 0.0:
            return np.asarray(g_prog_us, dtype=np.float64)
        t0 = self.config.drift.t0_s
        return g_prog_us * ((t_s + t0) / t0) ** (-np.asarray(nu))

    def at_time(
        self,
        g_prog_us: np.ndarray,
        nu: np.ndarray,
        t_s: float,
        rng: np.random.Generator,
        faults: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return conductances t seconds after programming: drift, accumulated 1/f noise, relaxation (>= 0).

        Stuck devices (when `faults` is given) keep their stuck value.
        """
        g = self.drift(g_prog_us, nu, t_s)
        d, rel = self.config.drift, self.config.relaxation
        if t_s > 0.0 and d.accumulated_one_over_f is not None:
            sig = d.accumulated_one_over_f.relative_sigma(g_prog_us / self.g_max, t_s + d.t0_s)
            g = g + np.abs(g) * sig * rng.standard_normal(g.shape)
        if rel.ref_coeffs_us and rel.scale != 0.0 and t_s > rel.t_start_s:
            x = np.asarray(g_prog_us, dtype=np.float64) / self.g_max
            unit = self.g_max / rel.coeff_g_max_us
            s_ref = np.maximum(_poly(rel.ref_coeffs_us, x), 0.0) * unit
            s_prog = dataclasses.replace(self.config.programming, scale=1.0).sigma_us(g_prog_us, self.g_max)
            growth = rel.scale * np.sqrt(np.log(t_s / rel.t_start_s) / np.log(rel.t_ref_s / rel.t_start_s))
            g = g + np.sqrt(np.maximum(s_ref**2 - s_prog**2, 0.0)) * growth * rng.standard_normal(g.shape)
        g = np.maximum(g, 0.0)
        return g if faults is None else self.apply_faults(g, faults)

    def read_sigma(self, g_us: np.ndarray) -> np.ndarray:
        """Return the per-read noise standard deviation (uS) at conductances g_us."""
        return self.config.read.sigma_us(g_us, self.g_max)

    def read(self, g_us: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return one noisy read of devices at conductances g_us (uS)."""
        g = np.asarray(g_us, dtype=np.float64)
        return g + self.read_sigma(g) * rng.standard_normal(g.shape)
