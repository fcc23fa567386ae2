"""Fake quantization, MX block scaling, and raw bit-pattern encode/decode, for NumPy arrays and torch tensors."""

from __future__ import annotations

import functools

import numpy as np

from . import kernels
from .layout import NumpyOps, TorchOps, from_rows, make_layout, scale_rows, to_rows
from .registry import get_format
from .spec import BlockFormat, FloatFormat, Format, IntFormat, Specials


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def fake_quant(
    x,
    fmt: str | Format,
    scale=1.0,
    axis: int | None = None,
    block_size: int | None = None,
    zero_point=None,
    saturate: bool = True,
    backend: str = "numba",
):
    """Return float32 values of x rounded onto `fmt`'s grid times `scale` (same type as x: ndarray or tensor).

    Rounding is to nearest, ties to even. `scale` is a scalar (per tensor), a vector of x.shape[axis] values (per
    channel), or, with `block_size`, an array shaped like x with the axis cut into ceil(n / block_size) blocks.
    With `saturate` (the default, as ONNX QuantizeLinear with saturate=1) values beyond the range, infinities
    included, clip to +-max; without it overflow follows the format's own rules (inf, or NaN for finite formats
    that have one), as ml_dtypes and torch's E5M2/FNUZ casts do.
    Block (MX) formats compute their shared power-of-two scales themselves along `axis` (default: last).
    torch tensors keep autograd: the gradient passes straight through. `backend` is "numba" or "numpy" (its
    twin, identical results) for arrays; tensors always use torch ops.
    """
    fmt = get_format(fmt)
    if isinstance(fmt, BlockFormat):
        if not (np.isscalar(scale) and scale == 1.0) or zero_point is not None:
            raise ValueError(f"{fmt.name} computes its own block scales; do not pass scale or zero_point")
        axis = -1 if axis is None else axis
        block_size = fmt.block_size if block_size is None else block_size
    if _is_torch(x):
        return _fake_quant_torch(x, fmt, scale, axis, block_size, zero_point, saturate)
    if backend not in ("numba", "numpy"):
        raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
    x = np.asarray(x, dtype=np.float32)
    layout = make_layout(x.shape, axis, block_size)
    rows = to_rows(x, layout, NumpyOps)
    if isinstance(fmt, BlockFormat):
        out = _fake_quant_block_rows(rows, fmt, backend)
    else:
        s = scale_rows(scale, layout, NumpyOps)
        z = None if zero_point is None else scale_rows(zero_point, layout, NumpyOps)
        out = _fake_quant_rows(rows, fmt, s, z, saturate, backend)
    return from_rows(out, layout, NumpyOps)


def _fake_quant_rows(rows, fmt, s, z, saturate, backend):
    if isinstance(fmt, IntFormat):
        z = np.zeros_like(s) if z is None else z
        if backend == "numpy":
            return kernels.fake_quant_int_rows_numpy(rows, s, z, fmt.qmin, fmt.qmax)
        out = np.empty_like(rows)
        kernels.fake_quant_int_rows(rows, s, z, out, float(fmt.qmin), float(fmt.qmax))
        return out
    if z is not None:
        raise ValueError(f"{fmt.name} is a floating-point format: zero_point applies to integer formats only")
    p = kernels.FloatParams.of(fmt, saturate)
    if backend == "numpy":
        return kernels.fake_quant_float_rows_numpy(rows, s, p)
    out = np.empty_like(rows)
    kernels.fake_quant_float_rows(
        rows, s, out, p.shift, p.min_normal, p.sub_magic, p.max, p.clamp, p.overflow, p.unsigned_zero
    )
    return out


def _block_element_scales(block_amax, fmt: BlockFormat):
    """Return (shared E8M0 exponents, scale applied to the elements) for blocks with the given abs-max."""
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log2(block_amax)) - fmt.element_emax
    exponent = np.clip(np.nan_to_num(exponent, neginf=-127.0), -127, 127).astype(np.int32)
    return exponent, _element_scale(exponent, fmt)


def _element_scale(exponent: np.ndarray, fmt: BlockFormat) -> np.ndarray:
    """Return the float32 scale of the elements for shared exponents (MXINT8 elements are fixed point 1.6)."""
    element_step = 2.0**-6 if isinstance(fmt.element, IntFormat) else 1.0
    return np.ldexp(np.float32(element_step), exponent).astype(np.float32)


def _mx_element(fmt: BlockFormat) -> Format:
    # MXINT8 is symmetric: -128 is not used, so the block stays sign-symmetric.
    if isinstance(fmt.element, IntFormat):
        return _SymmetricInt(fmt.element.bits)
    return fmt.element


class _SymmetricInt(IntFormat):
    @property
    def qmin(self) -> int:
        return -((1 << (self.bits - 1)) - 1)


def _fake_quant_block_rows(rows, fmt: BlockFormat, backend):
    _, s = _block_element_scales(np.abs(rows).max(axis=1), fmt)
    return _fake_quant_rows(rows, _mx_element(fmt), s, None, True, backend)


def mx_scale_exponents(x, fmt: str | BlockFormat, axis: int = -1) -> np.ndarray:
    """Return the int32 shared exponents (E8M0 code minus 127) of an MX format's blocks along `axis`."""
    fmt = get_format(fmt)
    if not isinstance(fmt, BlockFormat):
        raise ValueError(f"{fmt.name} is not a block (MX) format")
    x = np.asarray(x, dtype=np.float32)
    layout = make_layout(x.shape, axis, fmt.block_size)
    exponent, _ = _block_element_scales(np.abs(to_rows(x, layout, NumpyOps)).max(axis=1), fmt)
    shape = layout.scale_shape
    moved = (shape[: layout.axis] + shape[layout.axis + 1 :]) + (shape[layout.axis],)
    return np.moveaxis(exponent.reshape(moved), -1, layout.axis)


# ---------------------------------------------------------------------------------------------- torch path


def _fake_quant_torch(x, fmt, scale, axis, block_size, zero_point, saturate):
    import torch

    class _StraightThrough(torch.autograd.Function):
        @staticmethod
        def forward(ctx, value):
            return _fake_quant_torch_values(value.detach(), fmt, scale, axis, block_size, zero_point, saturate)

        @staticmethod
        def backward(ctx, grad):
            return grad

    if x.requires_grad:
        return _StraightThrough.apply(x)
    return _fake_quant_torch_values(x, fmt, scale, axis, block_size, zero_point, saturate)


def _fake_quant_torch_values(x, fmt, scale, axis, block_size, zero_point, saturate):
    import torch

    x = x.to(torch.float32)
    layout = make_layout(tuple(x.shape), axis, block_size)
    ops = TorchOps(x)
    rows = to_rows(x, layout, ops)
    if isinstance(fmt, BlockFormat):
        amax = rows.abs().amax(dim=1).cpu().numpy()
        _, s = _block_element_scales(amax, fmt)
        out = _torch_rows(rows, _mx_element(fmt), ops.asarray_f32(s), None, True)
    else:
        s = scale_rows(scale, layout, ops)
        z = None if zero_point is None else scale_rows(zero_point, layout, ops)
        out = _torch_rows(rows, fmt, s, z, saturate)
    return from_rows(out, layout, ops)


def _torch_rows(rows, fmt, s, z, saturate):
    """torch twin of the NumPy row kernels: the same float32 operations in the same order."""
    import torch

    s = s[:, None]
    if isinstance(fmt, IntFormat):
        z = torch.zeros_like(s) if z is None else z[:, None]
        q = torch.clamp(torch.round(rows / s) + z, float(fmt.qmin), float(fmt.qmax))
        return (q - z) * s
    if z is not None:
        raise ValueError(f"{fmt.name} is a floating-point format: zero_point applies to integer formats only")
    p = kernels.FloatParams.of(fmt, saturate)
    f32 = lambda v: torch.tensor(v, dtype=torch.float32, device=rows.device)  # noqa: E731
    v = rows / s
    a = torch.minimum(v.abs(), f32(p.clamp))
    b = a.view(torch.int32)
    if p.shift > 0:
        lsb = (b >> p.shift) & 1
        b = (b + ((1 << (p.shift - 1)) - 1) + lsb) & ~((1 << p.shift) - 1)
    normal = b.view(torch.float32)
    normal = torch.where(normal > f32(p.max), f32(p.overflow), normal)
    subnormal = (a + f32(p.sub_magic)) - f32(p.sub_magic)
    a = torch.where(a >= f32(p.min_normal), normal, subnormal)
    q = torch.where(torch.signbit(v), -a, a)
    if p.unsigned_zero:
        q = torch.where(q == 0, f32(0.0), q)
    return q * s


# ------------------------------------------------------------------------------------------ encode / decode


def _code_dtype(bits: int):
    if bits > 16:
        raise ValueError(f"raw codes are supported up to 16 bits, got a {bits}-bit format")
    return np.uint8 if bits <= 8 else np.uint16


def encode(x, fmt: str | Format, scale=1.0, axis=None, block_size=None, zero_point=None) -> np.ndarray:
    """Return the raw bit patterns (uint8 up to 8 bits, else uint16) of x quantized to `fmt` with `scale`.

    Integers are two's complement in the low `bits` bits; minifloats use the sign/exponent/mantissa layout of
    their spec (for MX formats this encodes the elements; get the scales from `mx_scale_exponents`).
    """
    fmt = get_format(fmt)
    x = np.asarray(x, dtype=np.float32)
    if isinstance(fmt, BlockFormat):
        axis = -1 if axis is None else axis
        scale = _element_scale(mx_scale_exponents(x, fmt, axis), fmt)
        block_size, zero_point, element = fmt.block_size, None, _mx_element(fmt)
    else:
        element = fmt
    # Divide once and round on the unit grid: the same float32 division the fake-quant kernels do, so the codes
    # are exactly the values fake_quant returns (dividing fake_quant's output by the scale can miss by an ulp).
    v = x / _broadcast_scale(scale, x.shape, axis, block_size)
    dtype = _code_dtype(element.bits)
    if isinstance(element, IntFormat):
        z = 0 if zero_point is None else _broadcast_scale(zero_point, x.shape, axis, block_size)
        q = np.clip(np.rint(v) + z, element.qmin, element.qmax)
        return (q.astype(np.int64) & ((1 << element.bits) - 1)).astype(dtype)
    if zero_point is not None:
        raise ValueError(f"{element.name} is a floating-point format: zero_point applies to integer formats only")
    return _encode_float(fake_quant(v, element), element).astype(dtype)


def _broadcast_scale(scale, shape, axis, block_size):
    scale = np.asarray(scale, dtype=np.float32)
    if axis is None or scale.ndim == 0:
        return scale
    axis = axis % len(shape)
    if block_size is None:
        return scale.reshape([-1 if d == axis else 1 for d in range(len(shape))])
    return np.repeat(scale, block_size, axis=axis).take(np.arange(shape[axis]), axis=axis)


def _encode_float(q: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    man, exp_bits = fmt.man_bits, fmt.exp_bits
    a = np.abs(q)
    sign = np.signbit(q).astype(np.int64)
    bits = a.view(np.uint32).astype(np.int64)
    normal = a >= np.float32(fmt.min_normal)
    exp_code = np.where(normal, (bits >> 23) - 127 + fmt.effective_bias, 0)
    man_code = np.where(normal, (bits >> (23 - man)) & ((1 << man) - 1), 0)
    subnormal = np.where(normal | ~np.isfinite(a), 0, a)
    sub = np.rint(subnormal / np.float32(fmt.min_subnormal)).astype(np.int64)
    code = (sign << (exp_bits + man)) | (exp_code << man) | np.where(normal, man_code, sub)
    top_exp = ((1 << exp_bits) - 1) << man
    nan, inf = np.isnan(q), np.isinf(q)
    if nan.any() and fmt.specials is Specials.FINITE:
        raise ValueError(f"{fmt.name} has no NaN encoding; the input contains NaN")
    if fmt.specials is Specials.IEEE:
        code = np.where(inf, (sign << (exp_bits + man)) | top_exp, code)
        code = np.where(nan, (sign << (exp_bits + man)) | top_exp | (1 << max(man - 1, 0)), code)
    elif fmt.specials is Specials.FN:
        code = np.where(nan, (sign << (exp_bits + man)) | top_exp | ((1 << man) - 1), code)
    elif fmt.specials is Specials.FNUZ:
        code = np.where(nan, 1 << (exp_bits + man), np.where(a == 0, 0, code))
    return code


@functools.lru_cache(maxsize=None)
def decode_table(fmt: FloatFormat | IntFormat) -> np.ndarray:
    """Return the float32 value of every code 0 .. 2^bits - 1 of a format (NaN where the code is NaN)."""
    n = 1 << fmt.bits
    codes = np.arange(n, dtype=np.int64)
    if isinstance(fmt, IntFormat):
        values = np.where(codes < n // 2, codes, codes - n) if fmt.signed else codes
        return values.astype(np.float32)
    man, exp_bits = fmt.man_bits, fmt.exp_bits
    sign = np.where(codes >> (exp_bits + man) == 1, -1.0, 1.0)
    e = (codes >> man) & ((1 << exp_bits) - 1)
    m = codes & ((1 << man) - 1)
    magnitude = np.where(
        e == 0, m * 2.0 ** (fmt.min_exp - man), (1 + m / 2.0**man) * np.exp2(e - fmt.effective_bias)
    )
    values = sign * magnitude
    top = e == (1 << exp_bits) - 1
    if fmt.specials is Specials.IEEE:
        values = np.where(top & (m == 0), sign * np.inf, np.where(top, np.nan, values))
    elif fmt.specials is Specials.FN:
        values = np.where(top & (m == (1 << man) - 1), np.nan, values)
    elif fmt.specials is Specials.FNUZ:
        values = np.where(codes == n // 2, np.nan, values)
    return values.astype(np.float32)


def decode(codes, fmt: str | Format, scale=1.0, axis=None, block_size=None, zero_point=None) -> np.ndarray:
    """Return the float32 values of raw bit patterns `codes`, times `scale` (inverse of `encode`)."""
    fmt = get_format(fmt)
    if isinstance(fmt, BlockFormat):
        raise ValueError("decode the elements with the element format and multiply by the block scales")
    values = decode_table(fmt)[np.asarray(codes).astype(np.int64)]
    if zero_point is not None:
        values = values - _broadcast_scale(zero_point, values.shape, axis, block_size)
    return (values * _broadcast_scale(scale, values.shape, axis, block_size)).astype(np.float32)


def scale_for_range(amax, fmt: str | Format) -> np.ndarray:
    """Return the symmetric scale mapping |x| <= amax onto the format's largest value (float32, > 0)."""
    fmt = get_format(fmt)
    if isinstance(fmt, BlockFormat):
        raise ValueError(f"{fmt.name} chooses its own block scales")
    amax = np.asarray(amax, dtype=np.float32)
    top = fmt.qmax if isinstance(fmt, IntFormat) else fmt.max
    tiny = np.float32(np.finfo(np.float32).tiny)
    return np.maximum(amax / np.float32(top), tiny).astype(np.float32)


__all__ = ["fake_quant", "encode", "decode", "decode_table", "mx_scale_exponents", "scale_for_range"]
