"""Array-only kernels of the crossbar MVM: one Numba kernel per step, each with a NumPy twin giving the same numbers.

Noise per MVM comes from a counter-based generator, so a sample's noise depends only on (call key, sample index,
column) and never on how the batch is chunked or threaded: a 64-bit key per call, SplitMix64 hashing of the
counter, and a near-Gaussian made from 96 random bits: a Binomial(96, 1/2) count plus a uniform dither,
standardized. Its mean is exactly 0 and its variance exactly 1; its excess kurtosis is -1/48 and it is bounded at
about 9.8 sigma. That is accurate enough for thermal/1f read noise and an order of magnitude cheaper than
Box-Muller or a ziggurat (no transcendental calls, no branches), which is what keeps the noisy MVM near GEMM speed.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = [
    "dac_encode_nb",
    "dac_encode_np",
    "gaussian_np",
    "mix_key",
    "tile_accumulate_nb",
    "tile_accumulate_np",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_K1 = np.uint64(0x5555555555555555)
_K2 = np.uint64(0x3333333333333333)
_K4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_LOW32 = np.uint64(0xFFFFFFFF)
_ONE, _TWO = np.uint64(1), np.uint64(2)
_S30, _S27, _S31, _S32, _S56 = (np.uint64(s) for s in (30, 27, 31, 32, 56))
_S1, _S2, _S4 = np.uint64(1), np.uint64(2), np.uint64(4)
_INV_STD = 1.0 / np.sqrt(96 * 0.25 + 1.0 / 12.0)  # Binomial(96, 1/2) variance 24, uniform dither 1/12
_TWO_M32 = 2.0**-32


def mix_key(key: int, *salt: int) -> np.uint64:
    """Return a 64-bit key derived from key and salt values (SplitMix64 chain; for per-tile, per-plane keys)."""
    with np.errstate(over="ignore"):
        k = np.uint64(key)
        for s in salt:
            k = _mix_np(k + (np.uint64(s) + _ONE) * _GOLDEN)
    return k


# ---------------------------------------------------------------------------------------------------------- NumPy


def _mix_np(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _popcount_np(x):
    x = x - ((x >> _S1) & _K1)
    x = (x & _K2) + ((x >> _S2) & _K2)
    x = (x + (x >> _S4)) & _K4
    return (x * _H01) >> _S56


def gaussian_np(key: int, row0: int, rows: int, cols: int) -> np.ndarray:
    """Return the (rows, cols) float64 standard normals of samples row0..row0+rows-1 under key (NumPy twin)."""
    with np.errstate(over="ignore"):
        c = (np.arange(row0, row0 + rows, dtype=np.uint64)[:, None] * np.uint64(cols)) + np.arange(
            cols, dtype=np.uint64
        )
        k = np.uint64(key)
        h1 = _mix_np(k + (c * _TWO + _ONE) * _GOLDEN)
        h2 = _mix_np(k + (c * _TWO + _TWO) * _GOLDEN)
        n = (_popcount_np(h1) + _popcount_np(h2 & _LOW32)).astype(np.float64)
        u = (h2 >> _S32).astype(np.float64) * _TWO_M32 + 0.5 * _TWO_M32
    return (n - 48.0 + u - 0.5) * _INV_STD


def dac_encode_np(x: np.ndarray, k: int, fixed_range: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (x_n float32, scale float32 per row, sum of x_n^2 float64 per row); k = 0 means no rounding,
    fixed_range = 0 means per-row abs-max scaling (NumPy twin of `dac_encode_nb`)."""
    x = np.asarray(x, dtype=np.float32)
    if fixed_range > 0.0:
        scale = np.full(x.shape[0], fixed_range, dtype=np.float32)
        xn = np.clip(x / scale[:, None], np.float32(-1.0), np.float32(1.0))
    else:
        scale = np.max(np.abs(x), axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
        scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
        xn = x / scale[:, None]
    if k:
        xn = np.rint(xn * np.float32(k)) / np.float32(k)
    xn = xn.astype(np.float32)
    sumsq = np.einsum("ij,ij->i", xn.astype(np.float64), xn.astype(np.float64))
    return xn, scale, sumsq


def tile_accumulate_np(
    acc: np.ndarray,
    var_full: np.ndarray,
    var_row: np.ndarray,
    var_mode: int,
    key: int,
    row0: int,
    lsb: float,
    bound: float,
    x_scale: np.ndarray,
    col_scale: np.ndarray,
    out: np.ndarray,
) -> None:
    """out += ADC(acc + sqrt(var) * z) * x_scale[:, None] * col_scale (NumPy twin of `tile_accumulate_nb`).

    var_mode 0: no read noise; 1: variance var_row[b] for every column; 2: variance var_full[b, j]. lsb and bound
    are per-column float64 arrays (each column's ADC may have its own calibrated range); lsb 0 = no rounding.
    """
    v = acc.astype(np.float64)
    if var_mode:
        var = var_row[:, None] if var_mode == 1 else var_full.astype(np.float64)
        v = v + np.sqrt(np.maximum(var, 0.0)) * gaussian_np(key, row0, acc.shape[0], acc.shape[1])
    v = np.minimum(np.maximum(v, -bound), bound)
    rounded = np.rint(v / np.where(lsb > 0.0, lsb, 1.0)) * lsb
    v = np.where(lsb > 0.0, rounded, v)
    v = v * x_scale.astype(np.float64)[:, None] * col_scale.astype(np.float64)[None, :]
    out += v.astype(np.float32)


# ---------------------------------------------------------------------------------------------------------- Numba


@numba.njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def _popcount(x):
    x = x - ((x >> _S1) & _K1)
    x = (x & _K2) + ((x >> _S2) & _K2)
    x = (x + (x >> _S4)) & _K4
    return (x * _H01) >> _S56


@numba.njit(cache=True, inline="always")
def _gaussian(key, counter):
    h1 = _mix(key + (counter * _TWO + _ONE) * _GOLDEN)
    h2 = _mix(key + (counter * _TWO + _TWO) * _GOLDEN)
    n = np.float64(_popcount(h1) + _popcount(h2 & _LOW32))
    u = np.float64(h2 >> _S32) * _TWO_M32 + 0.5 * _TWO_M32
    return (n - 48.0 + u - 0.5) * _INV_STD


# Numba's np.rint is a call per element, which keeps these loops from vectorizing; adding and subtracting 1.5 x
# 2^mantissa rounds to nearest-even in the current (default) IEEE mode, bit-equal to rint for |v| < 2^22 (float32)
# or 2^51 (float64). DAC codes stay below 2^22 for bits <= 23 and ADC codes below 2^23, so both are in range.
_MAGIC32 = np.float32(12582912.0)
_MAGIC64 = 6755399441055744.0


_RINT32_LIMIT = 1 << 22


@numba.njit(cache=True, inline="always")
def _rint32(v):
    return (v + _MAGIC32) - _MAGIC32


@numba.njit(cache=True, inline="always")
def _rint64(v):
    return (v + _MAGIC64) - _MAGIC64


@numba.njit(cache=True, inline="always")
def _dac_encode_row(x, b, k, fixed_range, xn, scale, sumsq, need_sumsq):
    cols = x.shape[1]
    kf = np.float32(k)
    if fixed_range > 0.0:
        s = np.float32(fixed_range)
    else:
        s = np.float32(0.0)
        for i in range(cols):
            s = max(s, abs(np.float32(x[b, i])))
        if s == 0.0:
            s = np.float32(1.0)
    scale[b] = s
    one = np.float32(1.0)
    # one branch-free loop per case, so LLVM vectorizes each (the same operations in the same order as the twin)
    if k >= _RINT32_LIMIT:  # 24-bit DACs: codes beyond the magic-number range, round with rint
        for i in range(cols):
            v = np.float32(x[b, i]) / s
            if fixed_range > 0.0:
                v = min(max(v, -one), one)
            xn[b, i] = np.float32(np.rint(v * kf)) / kf
    elif fixed_range > 0.0 and k:
        for i in range(cols):
            xn[b, i] = _rint32(min(max(np.float32(x[b, i]) / s, -one), one) * kf) / kf
    elif fixed_range > 0.0:
        for i in range(cols):
            xn[b, i] = min(max(np.float32(x[b, i]) / s, -one), one)
    elif k:
        for i in range(cols):
            xn[b, i] = _rint32((np.float32(x[b, i]) / s) * kf) / kf
    else:
        for i in range(cols):
            xn[b, i] = np.float32(x[b, i]) / s
    if need_sumsq:  # a serial float64 sum: only the uniform-read-noise path needs it
        acc = 0.0
        for i in range(cols):
            acc += np.float64(xn[b, i]) * np.float64(xn[b, i])
        sumsq[b] = acc


@numba.njit(cache=True, inline="always")
def _tile_accumulate_row(acc, var_full, var_row, var_mode, ukey, row0, lsb, bound, x_scale, col_scale, out, b):
    cols = acc.shape[1]
    base = np.uint64(row0 + b) * np.uint64(cols)
    xs = np.float64(x_scale[b])
    for j in range(cols):
        v = np.float64(acc[b, j])
        if var_mode == 1:
            v += np.sqrt(max(var_row[b], 0.0)) * _gaussian(ukey, base + np.uint64(j))
        elif var_mode == 2:
            v += np.sqrt(max(np.float64(var_full[b, j]), 0.0)) * _gaussian(ukey, base + np.uint64(j))
        v = min(max(v, -bound[j]), bound[j])
        if lsb[j] > 0.0:
            v = _rint64(v / lsb[j]) * lsb[j]
        out[b, j] += np.float32(v * xs * np.float64(col_scale[j]))


# Threads pay off only on large blocks: waking a thread pool costs far more than a small tile's work (and much
# more on a loaded machine), so each kernel has a serial and a parallel build (separate functions, so Numba's
# on-disk cache keeps both) and small calls take the serial one.
_PARALLEL_MIN_ELEMENTS = 1 << 16


@numba.njit(cache=True)
def _dac_encode_serial(x, k, fixed_range, xn, scale, sumsq, need_sumsq):
    for b in range(x.shape[0]):
        _dac_encode_row(x, b, k, fixed_range, xn, scale, sumsq, need_sumsq)


@numba.njit(cache=True, parallel=True)
def _dac_encode_parallel(x, k, fixed_range, xn, scale, sumsq, need_sumsq):
    for b in prange(x.shape[0]):
        _dac_encode_row(x, b, k, fixed_range, xn, scale, sumsq, need_sumsq)


@numba.njit(cache=True)
def _tile_accumulate_serial(acc, var_full, var_row, var_mode, key, row0, lsb, bound, x_scale, col_scale, out):
    for b in range(acc.shape[0]):
        _tile_accumulate_row(acc, var_full, var_row, var_mode, key, row0, lsb, bound, x_scale, col_scale, out, b)


@numba.njit(cache=True, parallel=True)
def _tile_accumulate_parallel(acc, var_full, var_row, var_mode, key, row0, lsb, bound, x_scale, col_scale, out):
    for b in prange(acc.shape[0]):
        _tile_accumulate_row(acc, var_full, var_row, var_mode, key, row0, lsb, bound, x_scale, col_scale, out, b)


def dac_encode_nb(x, k, fixed_range, xn, scale, sumsq, need_sumsq: bool = True) -> None:
    """Fill xn (float32), scale (float32 per row) and sumsq (float64 per row; left untouched when need_sumsq is
    False) from x; see `dac_encode_np`."""
    kernel = _dac_encode_parallel if x.size >= _PARALLEL_MIN_ELEMENTS else _dac_encode_serial
    kernel(x, k, fixed_range, xn, scale, sumsq, need_sumsq)


def tile_accumulate_nb(acc, var_full, var_row, var_mode, key, row0, lsb, bound, x_scale, col_scale, out) -> None:
    """out += ADC(acc + sqrt(var) * z) * x_scale[:, None] * col_scale; see `tile_accumulate_np`."""
    kernel = _tile_accumulate_parallel if acc.size >= _PARALLEL_MIN_ELEMENTS else _tile_accumulate_serial
    kernel(acc, var_full, var_row, var_mode, np.uint64(key), row0, lsb, bound, x_scale, col_scale, out)
