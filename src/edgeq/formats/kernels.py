"""Rounding kernels: one Numba kernel per format family, each with a NumPy twin that computes the same bits.

All kernels work on a (rows, cols) float32 view where every row shares one scale; `layout.py` builds that view
for per-tensor, per-channel and per-block scales. Minifloat rounding is done on the float32 bit pattern:
adding half an ulp (minus one, plus the kept LSB) and truncating is round-to-nearest, ties-to-even, and a carry
into the exponent is exactly the step to the next binade. Values below the format's smallest normal use the
classic `(a + C) - C` trick, where float32 addition itself rounds to the subnormal grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .spec import FloatFormat, Specials


@dataclass(frozen=True)
class FloatParams:
    """The numbers a minifloat rounding kernel needs, all exactly representable in float32."""

    shift: int  # 23 - mantissa bits: how many float32 mantissa bits are dropped
    min_normal: float  # 2^emin: below it the format is subnormal
    sub_magic: float  # 2^(emin - man + 23): adding it rounds to the subnormal grid
    max: float  # largest finite value
    clamp: float  # finite value above max whose rounding is still finite, keeps inf out of the bit trick
    overflow: float  # what a value above max becomes when not saturating: inf, nan or max
    unsigned_zero: bool  # FNUZ formats have no -0

    @classmethod
    def of(cls, fmt: FloatFormat, saturate: bool) -> "FloatParams":
        if saturate or fmt.specials is Specials.FINITE:
            overflow = fmt.max
        elif fmt.has_inf:
            overflow = np.inf
        else:
            overflow = np.nan
        return cls(
            shift=23 - fmt.man_bits,
            min_normal=fmt.min_normal,
            sub_magic=2.0 ** (fmt.min_exp - fmt.man_bits + 23),
            max=fmt.max,
            clamp=2.0 ** min(fmt.max_exp + 2, 127),
            overflow=overflow,
            unsigned_zero=fmt.specials is Specials.FNUZ,
        )


@intrinsic
def _f32_bits(typingctx, x):
    """Reinterpret a float32 as its uint32 bit pattern (a bitcast, no conversion)."""
    sig = types.uint32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def _bits_f32(typingctx, x):
    """Reinterpret a uint32 bit pattern as a float32."""
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@numba.njit(cache=True, inline="always")
def _round_minifloat(v, shift, min_normal, sub_magic, max_val, clamp, overflow, unsigned_zero):
    a = min(abs(v), clamp)  # NaN stays NaN: min() returns its first argument when the comparison fails
    if a >= min_normal:
        if shift > 0:
            b = _f32_bits(a)
            lsb = (b >> np.uint32(shift)) & np.uint32(1)
            b = b + np.uint32((1 << (shift - 1)) - 1) + lsb
            b = b & ~np.uint32((1 << shift) - 1)
            a = _bits_f32(b)
        if a > max_val:
            a = overflow
    else:
        a = (a + sub_magic) - sub_magic
    if unsigned_zero and a == 0:
        return np.float32(0.0)
    return -a if _f32_bits(v) >> np.uint32(31) else a  # the sign bit, so -0.0 keeps its sign


@numba.njit(cache=True, parallel=True)
def fake_quant_float_rows(x, scale, out, shift, min_normal, sub_magic, max_val, clamp, overflow, unsigned_zero):
    """Round x[r, :] / scale[r] to the minifloat grid, multiply back by scale[r], write into out."""
    rows, cols = x.shape
    f32 = np.float32
    min_normal, sub_magic, max_val = f32(min_normal), f32(sub_magic), f32(max_val)
    clamp, overflow = f32(clamp), f32(overflow)
    for i in numba.prange(rows * cols):
        r = i // cols
        c = i - r * cols
        s = scale[r]
        q = _round_minifloat(x[r, c] / s, shift, min_normal, sub_magic, max_val, clamp, overflow, unsigned_zero)
        out[r, c] = q * s


@numba.njit(cache=True, parallel=True)
def fake_quant_int_rows(x, scale, zero_point, out, qmin, qmax):
    """Round x[r, :] / scale[r] + zero_point[r] to integers in [qmin, qmax] and map back to floats."""
    rows, cols = x.shape
    for i in numba.prange(rows * cols):
        r = i // cols
        c = i - r * cols
        s = scale[r]
        z = zero_point[r]
        q = np.rint(x[r, c] / s) + z
        q = min(max(q, np.float32(qmin)), np.float32(qmax))
        out[r, c] = (q - z) * s


def fake_quant_float_rows_numpy(x: np.ndarray, scale: np.ndarray, p: FloatParams) -> np.ndarray:
    """NumPy twin of `fake_quant_float_rows`: same float32 operations in the same order."""
    f32 = np.float32
    s = scale.astype(f32)[:, None]
    v = x / s
    a = np.minimum(np.abs(v), f32(p.clamp))
    b = a.view(np.uint32)
    if p.shift > 0:
        lsb = (b >> np.uint32(p.shift)) & np.uint32(1)
        b = (b + np.uint32((1 << (p.shift - 1)) - 1) + lsb) & ~np.uint32((1 << p.shift) - 1)
    normal = b.view(f32)
    normal = np.where(normal > f32(p.max), f32(p.overflow), normal)
    subnormal = (a + f32(p.sub_magic)) - f32(p.sub_magic)
    a = np.where(a >= f32(p.min_normal), normal, subnormal)
    q = np.where(np.signbit(v), -a, a)
    if p.unsigned_zero:
        q = np.where(q == 0, f32(0.0), q)
    return (q * s).astype(f32)


def fake_quant_int_rows_numpy(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, qmin: float, qmax: float):
    """NumPy twin of `fake_quant_int_rows`."""
    f32 = np.float32
    s = scale.astype(f32)[:, None]
    z = zero_point.astype(f32)[:, None]
    q = np.clip(np.rint(x / s) + z, f32(qmin), f32(qmax))
    return ((q - z) * s).astype(f32)
