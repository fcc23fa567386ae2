"""Weights on crossbar tiles: conductance mapping, programming (once), drift over time, and the simulated MVM.

    arr = program(W, get_preset("pcm"), np.random.default_rng(0))   # W: (in_features, out_features)
    y = arr.matmul(x, t_seconds=3600.0, rng=np.random.default_rng(1))  # ~ x @ W, one hour after programming

Where the time goes, and why it is cheap:
- Programming noise, faults, drift, accumulated noise and IR drop change the conductances, not the MVM: they are
  applied once per programmed array and time point and folded into an effective weight matrix (`state_at`).
- Read noise is fresh per MVM, but a sum of independent Gaussians is Gaussian: the output of column j carries
  noise of variance sum_i x_i^2 sigma_ij^2. That is one extra GEMM on squares, or only a row norm when every
  device has the same read noise; never a noise draw per weight per sample.
- DAC, GEMM per row tile, then one fused kernel (noise, ADC clip and rounding, scales, accumulation of the tiles'
  partial sums); the batch is processed in chunks so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeq.errors import ConfigError

from .adc import adc_params, dac_levels
from .devices import STUCK_AT_GMAX, STUCK_AT_GMIN, STUCK_NONE, DeviceModel
from .ir_drop import effective_conductance
from .kernels import dac_encode_nb, dac_encode_np, mix_key, tile_accumulate_nb
from .patches import Patches
from .periphery import affine_fit, column_ranges, drift_readout, input_range
from .presets import CrossbarConfig

__all__ = ["ArrayState", "ProgrammedArray", "program", "tile_ranges"]


def tile_ranges(size: int, tile: int) -> list[tuple[int, int]]:
    """Return the [start, stop) ranges that split size into tiles of at most `tile`."""
    return [(s, min(s + tile, size)) for s in range(0, size, tile)]


@dataclass(frozen=True)
class ArrayState:
    """The programmed array at one time point, in the normalized units the MVM works in."""

    t_seconds: float
    weights: np.ndarray
    """(in, out) float32 effective normalized weights W_n (per tile column in [-1, 1] when ideal)."""
    variance: np.ndarray | None
    """(in, out) float32 read-noise variance of each normalized weight; None when it is the same everywhere."""
    uniform_variance: float
    """Read-noise variance of every normalized weight when `variance` is None (0 = no read noise)."""
    col_scale: np.ndarray
    """(row tiles, out) float32: w_max of each tile column times the tile's drift-compensation factor."""


class ProgrammedArray:
    """A weight matrix programmed once onto crossbar tiles; `matmul` runs simulated MVMs at any time after."""

    def __init__(self, weights: np.ndarray, config: CrossbarConfig, rng: np.random.Generator) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2 or 0 in w.shape:
            raise ConfigError(f"weights must be a non-empty 2-D (in_features, out_features) array, got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ConfigError("weights contain NaN or inf")
        self.config = config
        self.device = DeviceModel(config.device)
        self.in_features, self.out_features = w.shape
        self.row_tiles = tile_ranges(self.in_features, config.tile.rows)
        self.col_tiles = tile_ranges(self.out_features, config.tile.cols)
        self._w_max = self._weight_scales(w)
        wn = w / np.repeat(self._w_max, [b - a for a, b in self.row_tiles], axis=0)
        if config.tile.weight_slices > 1:
            wn = self._slice(wn)
        g_lo, span = self.device.g_min, self.device.g_max - self.device.g_min
        if config.tile.mapping == "differential":
            targets = [g_lo + span * np.maximum(wn, 0.0), g_lo + span * np.maximum(-wn, 0.0)]
        else:
            targets = [g_lo + span * (wn + 1.0) / 2.0, np.full((wn.shape[0], len(self.col_tiles)), g_lo + span / 2)]
        self._faults = [self.device.draw_faults(t.shape, rng) for t in targets]
        self._g_prog = [self.device.program(t, rng, f) for t, f in zip(targets, self._faults)]
        self._nu = [self.device.drift_coefficients(g, rng) for g in self._g_prog]
        self._state_seed = int(rng.integers(0, 2**63))
        self._states: dict[float, ArrayState] = {}
        self._compensation_reference: np.ndarray | None = None  # t = 0 read-out, pinned when the array ages
        dac = config.dac
        self._input_range = np.full(len(self.row_tiles), dac.input_range if dac.scaling == "fixed" else 0.0)
        lsb, bound = adc_params(config.adc)
        self._lsb = np.full((len(self.row_tiles), self.out_features), lsb)
        self._bound = np.full((len(self.row_tiles), self.out_features), bound)
        self._affine: tuple[np.ndarray, np.ndarray] | None = None
        self._target = w.astype(np.float32) if config.calibration.affine else None

    # ------------------------------------------------------------------------------------------------- programming

    def _weight_scales(self, w: np.ndarray) -> np.ndarray:
        """Return w_max per (row tile, column): columnwise or tilewise max |w|, 1 where a block is all zero."""
        w_max = np.stack([np.max(np.abs(w[a:b]), axis=0) for a, b in self.row_tiles])
        if self.config.tile.weight_scale == "tile":
            for a, b in self.col_tiles:
                w_max[:, a:b] = w_max[:, a:b].max(axis=1, keepdims=True)
        return np.where(w_max > 0, w_max, 1.0)

    def _slice(self, wn: np.ndarray) -> np.ndarray:
        """Split normalized weights into `weight_slices` digit planes of `slice_bits` each, stacked along the rows
        (slice k holds digit k of |w_n| on a 2^b-level grid, with the sign); every slice gets its own tiles, and its
        tiles' scale carries the significance 2^(k b) (2^b - 1) / (2^(S b) - 1), so the digital shift-add of the
        tiles' ADC readings rebuilds w_n quantized to 2^(S b) - 1 levels per sign."""
        slices, bits = self.config.tile.weight_slices, self.config.tile.slice_bits
        top = 2 ** (slices * bits) - 1
        digit = 2**bits - 1
        code = np.rint(np.abs(wn) * top).astype(np.int64)
        planes = [np.sign(wn) * ((code >> (k * bits)) & digit) / digit for k in range(slices)]
        logical_tiles, logical_scale = self.row_tiles, self._w_max
        self.row_tiles = [
            (k * self.in_features + a, k * self.in_features + b) for k in range(slices) for a, b in logical_tiles
        ]
        self._w_max = np.concatenate([logical_scale * (2 ** (k * bits) * digit / top) for k in range(slices)])
        return np.concatenate(planes, axis=0)

    def add_stuck_faults(self, stuck_at_gmin: float, stuck_at_gmax: float, rng: np.random.Generator) -> int:
        """Make a fraction of the still-healthy devices stuck at G_min / G_max (field failures, no re-programming);
        return how many devices broke. Later reads, at any time, see them; drift compensation keeps its reference
        from programming time."""
        if stuck_at_gmin < 0 or stuck_at_gmax < 0 or stuck_at_gmin + stuck_at_gmax > 1:
            raise ConfigError("stuck-at rates must be >= 0 and sum to at most 1")
        if self._compensation_reference is None and self.config.drift_compensation != "none":
            self._compensation_reference = self.state_at(0.0).weights.copy()
        broken = 0
        for k, codes in enumerate(self._faults):
            u = rng.random(codes.shape)
            healthy = codes == STUCK_NONE
            new = np.where(healthy & (u < stuck_at_gmin), STUCK_AT_GMIN, STUCK_NONE)
            new = np.where(healthy & (u >= stuck_at_gmin) & (u < stuck_at_gmin + stuck_at_gmax), STUCK_AT_GMAX, new)
            self._faults[k] = np.where(healthy, new, codes).astype(np.int8)
            self._g_prog[k] = self.device.apply_faults(self._g_prog[k], self._faults[k])
            broken += int(np.count_nonzero(new))
        self._states.clear()
        return broken

    def conductances_at(self, t_seconds: float) -> list[np.ndarray]:
        """Return the device conductances (uS) t seconds after programming: [G+, G-] (differential) or
        [G, G_ref] (offset), including drift, accumulated noise and relaxation (deterministic per seed and t)."""
        if t_seconds <= 0.0:
            return [g.copy() for g in self._g_prog]
        rng = np.random.default_rng([self._state_seed, int(round(t_seconds * 1e3))])
        return [self.device.at_time(g, nu, t_seconds, rng, f) for g, nu, f in zip(self._g_prog, self._nu, self._faults)]

    def _with_ir_drop(self, g: list[np.ndarray]) -> list[np.ndarray]:
        """Return the effective conductances seen through the wires, tile by tile (exact nodal solve)."""
        if not self.config.ir_drop.active:
            return g
        out = [np.empty_like(g[0]), np.empty_like(g[1])]
        differential = self.config.tile.mapping == "differential"
        for a, b in self.row_tiles:
            for c, (lo, hi) in enumerate(self.col_tiles):
                if differential:  # G+ and G- bit lines interleaved on the same word lines
                    phys = np.empty((b - a, 2 * (hi - lo)))
                    phys[:, 0::2], phys[:, 1::2] = g[0][a:b, lo:hi], g[1][a:b, lo:hi]
                    eff = effective_conductance(phys, self.config.ir_drop)
                    out[0][a:b, lo:hi], out[1][a:b, lo:hi] = eff[:, 0::2], eff[:, 1::2]
                else:  # reference column last
                    phys = np.concatenate([g[0][a:b, lo:hi], g[1][a:b, c : c + 1]], axis=1)
                    eff = effective_conductance(phys, self.config.ir_drop)
                    out[0][a:b, lo:hi], out[1][a:b, c] = eff[:, :-1], eff[:, -1]
        return out

    def _normalized(self, g: list[np.ndarray]) -> np.ndarray:
        """Return normalized weights W_n from device conductances."""
        span = self.device.g_max - self.device.g_min
        if self.config.tile.mapping == "differential":
            return (g[0] - g[1]) / span
        col_tile = np.repeat(np.arange(len(self.col_tiles)), [b - a for a, b in self.col_tiles])
        return 2.0 * (g[0] - g[1][:, col_tile]) / span

    def _read_variance(self, g: list[np.ndarray]) -> tuple[np.ndarray | None, float]:
        """Return (per-weight variance or None, uniform variance) of the normalized weights under read noise."""
        read = self.config.device.read
        span = self.device.g_max - self.device.g_min
        unit = (1.0 if self.config.tile.mapping == "differential" else 4.0) / span**2
        if read.state_independent:
            return None, 2.0 * float(self.device.read_sigma(np.zeros(1))[0]) ** 2 * unit
        s0, s1 = self.device.read_sigma(g[0]) ** 2, self.device.read_sigma(g[1]) ** 2
        if self.config.tile.mapping == "offset":
            col_tile = np.repeat(np.arange(len(self.col_tiles)), [b - a for a, b in self.col_tiles])
            s1 = s1[:, col_tile]
        return ((s0 + s1) * unit).astype(np.float32), 0.0

    def _drift_compensation(self, wn_t: np.ndarray, t_seconds: float, variance=None) -> np.ndarray:
        """Return per (row tile, column) factors that undo the tiles' drift (1 when off or at t = 0), from the
        read-out of `config.drift_compensation` (periphery.py) at programming and at t."""
        factors = np.ones((len(self.row_tiles), self.out_features))
        mode = self.config.drift_compensation
        if mode == "none" or t_seconds <= 0.0:
            return factors
        # The reference is read once, right after programming: faults that appear later are not calibrated away.
        st0 = self.state_at(0.0)
        wn_0 = st0.weights if self._compensation_reference is None else self._compensation_reference
        var_0 = st0.variance if st0.variance is not None else st0.uniform_variance
        var_t = variance if variance is not None else var_0
        for r, (a, b) in enumerate(self.row_tiles):
            for c, (lo, hi) in enumerate(self.col_tiles):
                blocks = [(wn_0, var_0, 0.0), (wn_t, var_t, t_seconds)]
                ref, now = (drift_readout(
                    w[a:b, lo:hi], mode, v[a:b, lo:hi] if isinstance(v, np.ndarray) else v, self.config.adc,
                    np.random.default_rng([self._state_seed, r, c, int(round(t * 1e3))])) for w, v, t in blocks)
                factors[r, lo:hi] = np.where(np.asarray(now) > 0, ref / np.where(np.asarray(now) > 0, now, 1.0), 1.0)
        return factors

    def calibrate(self, x: np.ndarray | Patches, rng: np.random.Generator) -> None:
        """Calibrate the periphery from inputs x (rows, in_features) right after programming, per
        `config.calibration`: DAC input range per row tile, ADC full scale per column, per-column affine output."""
        cal = self.config.calibration
        if not isinstance(x, Patches):
            x = np.asarray(x, dtype=np.float32).reshape(-1, self.in_features)
        if x.shape[0] > cal.samples:  # a deterministic subsample keeps calibration cost bounded
            keep = np.sort(rng.choice(x.shape[0], cal.samples, replace=False))
            x = x.take(keep) if isinstance(x, Patches) else x[keep]
        x = x.dense() if isinstance(x, Patches) else x
        xs = np.tile(x, (1, self.config.tile.weight_slices)) if self.config.tile.weight_slices > 1 else x
        st0 = self.state_at(0.0)
        k = dac_levels(self.config.dac)
        for r, (a, b) in enumerate(self.row_tiles):
            if cal.input_ranges:
                self._input_range[r] = input_range(xs[:, a:b], cal.percentile)
            if cal.adc_ranges and self.config.adc.bits is not None:
                xn, _, _ = dac_encode_np(xs[:, a:b], k, float(self._input_range[r]))
                levels = 2 ** (self.config.adc.bits - 1) - 1
                fs = cal.headroom * column_ranges(xn @ st0.weights[a:b], cal.percentile, floor=1e-6)
                self._bound[r], self._lsb[r] = fs, fs / levels
        if cal.affine:
            self._affine = None
            self._affine = affine_fit(self.matmul(x, 0.0, rng), x @ self._target)

    def state_at(self, t_seconds: float = 0.0) -> ArrayState:
        """Return (and cache) the array's effective normalized weights and read-noise variance at t seconds."""
        key = float(t_seconds)
        if key not in self._states:
            g_devices = self.conductances_at(key)
            wn = self._normalized(self._with_ir_drop(g_devices))
            variance, uniform = self._read_variance(g_devices)
            comp = self._drift_compensation(wn, key, variance if variance is not None else uniform)
            self._states[key] = ArrayState(
                t_seconds=key,
                weights=np.ascontiguousarray(wn, dtype=np.float32),
                variance=variance,
                uniform_variance=uniform,
                col_scale=(self._w_max * comp).astype(np.float32),
            )
        return self._states[key]

    def effective_weights(self, t_seconds: float = 0.0) -> np.ndarray:
        """Return the (in, out) float64 weight matrix the array realizes at t (no read noise, ideal converters)."""
        wn = self._normalized(self._with_ir_drop(self.conductances_at(float(t_seconds))))
        scale = self._w_max * self._drift_compensation(wn, float(t_seconds))
        physical = wn * np.repeat(scale, [b - a for a, b in self.row_tiles], axis=0)
        return physical.reshape(-1, self.in_features, self.out_features).sum(axis=0)  # add up weight slices

    # ------------------------------------------------------------------------------------------------------- MVM

    def matmul(self, x: np.ndarray, t_seconds: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        """Return the simulated x @ W (float32, shape (..., out)) for inputs x (..., in), or for a convolution's
        `Patches` (rows, in), at t seconds.

        rng draws one 64-bit key per call for the read noise; it is required when the device has read noise.
        """
        if not isinstance(x, Patches):
            x = np.asarray(x, dtype=np.float32)
        if x.shape[-1] != self.in_features:
            raise ConfigError(f"input has {x.shape[-1]} features, the array expects {self.in_features}")
        lead = x.shape[:-1]
        x2 = x if isinstance(x, Patches) else x.reshape(-1, self.in_features)
        st = self.state_at(t_seconds)
        noisy = st.variance is not None or st.uniform_variance > 0.0
        if noisy and rng is None:
            raise ConfigError("this array has read noise: pass rng=np.random.Generator to matmul")
        key = int(rng.integers(0, 2**63)) if noisy else 0
        out = np.empty((x2.shape[0], self.out_features), dtype=np.float32)
        chunk = max(1, self.config.batch_chunk)
        for c0 in range(0, x2.shape[0], chunk):
            c1 = min(c0 + chunk, x2.shape[0])
            self._matmul_chunk(x2.rows(c0, c1) if isinstance(x2, Patches) else x2[c0:c1], c0, st, key, out[c0:c1])
        if self._affine is not None:
            out = out * self._affine[0] + self._affine[1]
        return out.reshape(*lead, self.out_features)

    def _matmul_chunk(self, x: np.ndarray | Patches, row0: int, st: ArrayState, key: int, out: np.ndarray) -> None:
        """Write the simulated MVM of one batch chunk into out (rows row0.. of the call, which seed the noise)."""
        dac = self.config.dac
        k = dac_levels(dac)
        out[...] = 0.0
        n = x.shape[0]
        slices = self.config.tile.weight_slices
        if slices > 1:  # every weight slice sees the same input
            x = x.repeated(slices) if isinstance(x, Patches) else np.tile(x, (1, slices))
        empty2, empty1 = np.zeros((0, 0), np.float32), np.zeros(0)
        for r, (a, b) in enumerate(self.row_tiles):
            xn = np.empty((n, b - a), dtype=np.float32)
            xs, sumsq = np.empty(n, dtype=np.float32), np.empty(n)
            need_sumsq = st.variance is None and st.uniform_variance > 0.0 and not dac.bit_serial
            if isinstance(x, Patches):
                x.encode(a, b, k, float(self._input_range[r]), xn, xs, sumsq, need_sumsq)
            else:
                dac_encode_nb(x, k, float(self._input_range[r]), xn, xs, sumsq, need_sumsq, columns=(a, b))
            w = st.weights[a:b]
            if dac.bit_serial:
                codes = np.rint(xn * np.float32(k)).astype(np.int32)
                planes = [(np.sign(codes) * ((np.abs(codes) >> p) & 1)).astype(np.float32) for p in range(dac.bits - 1)]
                weights = [np.float32(2**p / k) for p in range(dac.bits - 1)]
            else:
                planes, weights = [xn], [np.float32(1.0)]
            for p, (plane, plane_w) in enumerate(zip(planes, weights)):
                acc = plane @ w
                var_full, var_row, mode = empty2, empty1, 0
                if st.variance is not None:
                    var_full, mode = (plane * plane) @ st.variance[a:b], 2
                elif st.uniform_variance > 0.0:
                    row_sq = sumsq if not dac.bit_serial else np.einsum("ij,ij->i", plane, plane, dtype=np.float64)
                    var_row, mode = st.uniform_variance * row_sq, 1
                tile_key = mix_key(key, r, p)
                tile_accumulate_nb(
                    acc, var_full, var_row, mode, tile_key, row0, self._lsb[r], self._bound[r], xs * plane_w,
                    st.col_scale[r], out
                )


def program(weights: np.ndarray, config: CrossbarConfig, rng: np.random.Generator) -> ProgrammedArray:
    """Return weights (in_features, out_features) programmed onto crossbar tiles under config (noise drawn once)."""
    return ProgrammedArray(weights, config, rng)
