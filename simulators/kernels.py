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
    "patch_encode_nb",
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
# The abs-max runs in 8 independent lanes: a serial max is one dependency chain that LLVM does not reorder (NaN
# rules), so it runs one element per cycle; 8 lanes vectorize, and max is exact in any order.
_LANES = 8


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
    one, kf = np.float32(1.0), np.float32(k)
    if fixed_range > 0.0:
        scale = np.full(x.shape[0], fixed_range, dtype=np.float32)
    else:
        scale = np.max(np.abs(x), axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
        scale = np.where(scale > 0, scale, one).astype(np.float32)
    if k >= _RINT32_LIMIT or not k:  # the kernel divides on these paths
        xn = x / scale[:, None]
        xn = np.clip(xn, -one, one) if fixed_range > 0.0 else xn
        xn = np.rint(xn * kf) / kf if k else xn
    elif fixed_range > 0.0:
        xn = np.rint(np.clip(x * (one / scale[:, None]), -one, one) * kf) * (one / kf)
    else:
        xn = np.rint(x * (kf / scale[:, None])) * (one / kf)
    xn = xn.astype(np.float32)
    return xn, scale, np.einsum("ij,ij->i", xn.astype(np.float64), xn.astype(np.float64))


def _inverse_steps(lsb: np.ndarray) -> np.ndarray:
    """Return 1 / lsb per column (1 where lsb is 0: no rounding there)."""
    return 1.0 / np.where(lsb > 0.0, lsb, 1.0)


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
    rounded = np.rint(v * _inverse_steps(lsb)) * lsb
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
def _dac_encode_row(x, lo, hi, b, k, fixed_range, xn, scale, sumsq, need_sumsq):
    """Encode x[b, lo:hi] into xn[b, :hi-lo]; x and xn must not be one array (aliasing keeps the loop scalar)."""
    cols = hi - lo
    kf = np.float32(k)
    if fixed_range > 0.0:
        s = np.float32(fixed_range)
    else:
        s = _abs_max_row(x, b, lo, cols)
        if s == 0.0:
            s = np.float32(1.0)
    scale[b] = s
    one = np.float32(1.0)
    # one branch-free loop per case over 1-D row views, so LLVM vectorizes each (2-D indexing keeps them scalar);
    # the same operations in the same order as the twin
    src, dst = x[b, lo:hi], xn[b, :cols]
    if k >= _RINT32_LIMIT:  # 24-bit DACs: codes beyond the magic-number range, round with rint
        for i in range(cols):
            v = src[i] / s
            if fixed_range > 0.0:
                v = min(max(v, -one), one)
            dst[i] = np.float32(np.rint(v * kf)) / kf
    elif fixed_range > 0.0 and k:
        inv_s, inv_k = one / s, one / kf
        for i in range(cols):
            dst[i] = _rint32(min(max(src[i] * inv_s, -one), one) * kf) * inv_k
    elif fixed_range > 0.0:
        for i in range(cols):
            dst[i] = min(max(src[i] / s, -one), one)
    elif k:
        r, inv_k = kf / s, one / kf  # multiplies: a vector divide costs several times more
        for i in range(cols):
            dst[i] = _rint32(src[i] * r) * inv_k
    else:
        for i in range(cols):
            dst[i] = src[i] / s
    if need_sumsq:  # only the uniform-read-noise path needs it
        sumsq[b] = _sumsq_row(xn, b, cols)


# The lanes are 8 scalars, not a small array: an array would be allocated per row, which costs as much as the row.
@numba.njit(cache=True, inline="always")
def _abs_max_row(x, b, lo, cols):
    row = x[b, lo : lo + cols]
    full = cols - cols % _LANES
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = np.float32(0.0)
    for i in range(0, full, _LANES):
        m0, m1 = max(m0, abs(row[i])), max(m1, abs(row[i + 1]))
        m2, m3 = max(m2, abs(row[i + 2])), max(m3, abs(row[i + 3]))
        m4, m5 = max(m4, abs(row[i + 4])), max(m5, abs(row[i + 5]))
        m6, m7 = max(m6, abs(row[i + 6])), max(m7, abs(row[i + 7]))
    s = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    for i in range(full, cols):
        s = max(s, abs(row[i]))
    return s


# The sum of squares only sets the read-noise sigma of its row, so its last bits do not matter: reassociation lets
# LLVM vectorize it (4x faster than summing in order), at the cost of bits that may differ from the twin's and
# between CPUs of different vector width (relative 1e-15; a seed still gives the same numbers on one machine).
@numba.njit(cache=True, fastmath={"reassoc", "contract"})  # not inlined: the caller's flags would apply
def _sumsq_row(xn, b, cols):
    row = xn[b, :cols]
    total = 0.0
    for i in range(cols):
        v = np.float64(row[i])
        total += v * v
    return total


@numba.njit(cache=True, inline="always")
def _adc(v, lsb, inv_lsb, bound):
    """Clip to the ADC's range and round to its step (no rounding when lsb is 0), as selects, not branches, so
    the column loop vectorizes; a multiply by the precomputed 1 / lsb, since a vector divide costs ~10x more."""
    v = min(max(v, -bound), bound)
    rounded = _rint64(v * inv_lsb) * lsb
    return rounded if lsb > 0.0 else v


@numba.njit(cache=True, inline="always")
def _tile_accumulate_row(acc, var_full, var_row, var_mode, ukey, row0, lsb, inv_lsb, bound, x_scale, col_scale, out,
                         b):
    cols = acc.shape[1]
    base = np.uint64(row0 + b) * np.uint64(cols)
    xs = np.float64(x_scale[b])
    a, o = acc[b], out[b]  # 1-D row views: LLVM vectorizes loops over them, not over 2-D indexing
    # one loop per noise mode (the mode is the same for the whole call), each free of branches
    if var_mode == 0:
        for j in range(cols):
            o[j] += np.float32(_adc(np.float64(a[j]), lsb[j], inv_lsb[j], bound[j]) * xs * np.float64(col_scale[j]))
    elif var_mode == 1:
        sd = np.sqrt(max(var_row[b], 0.0))
        for j in range(cols):
            v = np.float64(a[j]) + sd * _gaussian(ukey, base + np.uint64(j))
            o[j] += np.float32(_adc(v, lsb[j], inv_lsb[j], bound[j]) * xs * np.float64(col_scale[j]))
    else:
        var = var_full[b]
        for j in range(cols):
            v = np.float64(a[j]) + np.sqrt(max(np.float64(var[j]), 0.0)) * _gaussian(ukey, base + np.uint64(j))
            o[j] += np.float32(_adc(v, lsb[j], inv_lsb[j], bound[j]) * xs * np.float64(col_scale[j]))


# Threads pay off only on large blocks: waking a thread pool costs far more than a small tile's work (and much
# more on a loaded machine), so each kernel has a serial and a parallel build (separate functions, so Numba's
# on-disk cache keeps both) and small calls take the serial one.
_PARALLEL_MIN_ELEMENTS = 1 << 16


@numba.njit(cache=True)
def _dac_encode_serial(x, lo, hi, k, fixed_range, xn, scale, sumsq, need_sumsq):
    for b in range(x.shape[0]):
        _dac_encode_row(x, lo, hi, b, k, fixed_range, xn, scale, sumsq, need_sumsq)


@numba.njit(cache=True, parallel=True)
def _dac_encode_parallel(x, lo, hi, k, fixed_range, xn, scale, sumsq, need_sumsq):
    for b in prange(x.shape[0]):
        _dac_encode_row(x, lo, hi, b, k, fixed_range, xn, scale, sumsq, need_sumsq)


@numba.njit(cache=True)
def _tile_accumulate_serial(acc, var_full, var_row, var_mode, key, row0, lsb, inv_lsb, bound, x_scale, col_scale,
                            out):
    for b in range(acc.shape[0]):
        _tile_accumulate_row(acc, var_full, var_row, var_mode, key, row0, lsb, inv_lsb, bound, x_scale, col_scale, out,
                             b)


@numba.njit(cache=True, parallel=True)
def _tile_accumulate_parallel(acc, var_full, var_row, var_mode, key, row0, lsb, inv_lsb, bound, x_scale, col_scale,
                              out):
    for b in prange(acc.shape[0]):
        _tile_accumulate_row(acc, var_full, var_row, var_mode, key, row0, lsb, inv_lsb, bound, x_scale, col_scale, out,
                             b)


@numba.njit(cache=True, inline="always")
def _patch_encode_rows(flat, bases, offsets, k, fixed_range, xn, scale, sumsq, need_sumsq, b0, b1):
    # each row is gathered into a buffer, then encoded from it: encoding xn in place would alias source and
    # destination, which keeps LLVM from vectorizing the encode loop
    buf = np.empty((1, offsets.shape[0]), dtype=np.float32)
    row = buf[0]
    for b in range(b0, b1):
        base = bases[b]
        for i in range(offsets.shape[0]):
            row[i] = flat[base + offsets[i]]
        scale_b, sumsq_b = scale[b : b + 1], sumsq[b : b + 1]
        _dac_encode_row(buf, 0, offsets.shape[0], 0, k, fixed_range, xn[b : b + 1], scale_b, sumsq_b, need_sumsq)


_PATCH_ROWS = 64  # rows per parallel work item (one gather buffer each)


@numba.njit(cache=True)
def _patch_encode_serial(flat, bases, offsets, k, fixed_range, xn, scale, sumsq, need_sumsq):
    _patch_encode_rows(flat, bases, offsets, k, fixed_range, xn, scale, sumsq, need_sumsq, 0, bases.shape[0])


@numba.njit(cache=True, parallel=True)
def _patch_encode_parallel(flat, bases, offsets, k, fixed_range, xn, scale, sumsq, need_sumsq):
    n = bases.shape[0]
    for c in prange((n + _PATCH_ROWS - 1) // _PATCH_ROWS):
        b0 = c * _PATCH_ROWS
        _patch_encode_rows(flat, bases, offsets, k, fixed_range, xn, scale, sumsq, need_sumsq, b0,
                           min(b0 + _PATCH_ROWS, n))


def patch_encode_nb(flat, bases, offsets, k, fixed_range, xn, scale, sumsq, need_sumsq: bool = True) -> None:
    """`dac_encode_nb` of the rows flat[bases[b] + offsets] (a convolution's patches gathered straight from its
    padded input, so the im2col matrix is never written); bases and offsets are int64."""
    big = bases.shape[0] * offsets.shape[0] >= _PARALLEL_MIN_ELEMENTS
    kernel = _patch_encode_parallel if big else _patch_encode_serial
    kernel(flat, bases, offsets, k, fixed_range, xn, scale, sumsq, need_sumsq)


def dac_encode_nb(x, k, fixed_range, xn, scale, sumsq, need_sumsq: bool = True, columns=None) -> None:
    """Fill xn (float32), scale (float32 per row) and sumsq (float64 per row; left untouched when need_sumsq is
    False) from x, or from x[:, lo:hi] when columns = (lo, hi) (no copy of the block); see `dac_encode_np`."""
    x = np.ascontiguousarray(x, dtype=np.float32)  # Numba's loops over a strided view run about 3x slower
    lo, hi = columns if columns is not None else (0, x.shape[1])
    kernel = _dac_encode_parallel if x.shape[0] * (hi - lo) >= _PARALLEL_MIN_ELEMENTS else _dac_encode_serial
    kernel(x, lo, hi, k, fixed_range, xn, scale, sumsq, need_sumsq)


def tile_accumulate_nb(acc, var_full, var_row, var_mode, key, row0, lsb, bound, x_scale, col_scale, out) -> None:
    """out += ADC(acc + sqrt(var) * z) * x_scale[:, None] * col_scale; see `tile_accumulate_np`."""
    kernel = _tile_accumulate_parallel if acc.size >= _PARALLEL_MIN_ELEMENTS else _tile_accumulate_serial
    kernel(acc, var_full, var_row, var_mode, np.uint64(key), row0, lsb, _inverse_steps(lsb), bound, x_scale, col_scale,
           out)
