"""Exact fake quantization written as standard ONNX ops, for formats no runtime executes natively.

Minifloats (E3M4, E2M5, FP6, FP4, ...) and odd-width integers become a small subgraph of Div/Abs/Min/Round/...
whose every step is exact in float32, so any ONNX runtime computes bit for bit what `edgeq.formats.fake_quant`
computes: the binade of |x/s| is found by comparing with powers of two (no Log, whose rounding differs between
runtimes), dividing by the binade's step is exact, and Round is round-half-to-even as the kernels are.
Weights are stored as uint8/uint16 codes and decoded with a Gather from the format's value table times the scale.
"""

from __future__ import annotations

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from ..formats import (
    BlockFormat,
    FloatFormat,
    IntFormat,
    decode_table,
    encode,
    fake_quant,
    mx_scale_exponents,
)
from .plan import TensorQuant
from .util import expand_scale

Nodes = list[NodeProto]
Inits = list[TensorProto]


def _const(name: str, value) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def activation_pattern(x: str, y: str, entry: TensorQuant) -> tuple[Nodes, Inits]:
    """Return nodes and initializers computing y = fake_quant(x) with a per-tensor (or per-axis) scale."""
    fmt = entry.format
    p = f"{x}_fq"
    scale = _per_tensor(entry.scale)
    inits = [_const(f"{p}_scale", scale)]
    nodes = [helper.make_node("Div", [x, f"{p}_scale"], [f"{p}_v"], name=f"{p}_div")]
    if isinstance(fmt, IntFormat):
        zp = np.zeros_like(scale) if entry.zero_point is None else _per_tensor(entry.zero_point)
        inits += [_const(f"{p}_zp", zp), _const(f"{p}_qmin", fmt.qmin), _const(f"{p}_qmax", fmt.qmax)]
        nodes += [
            helper.make_node("Round", [f"{p}_v"], [f"{p}_r"], name=f"{p}_round"),
            helper.make_node("Add", [f"{p}_r", f"{p}_zp"], [f"{p}_rz"], name=f"{p}_addzp"),
            helper.make_node("Clip", [f"{p}_rz", f"{p}_qmin", f"{p}_qmax"], [f"{p}_c"], name=f"{p}_clip"),
            helper.make_node("Sub", [f"{p}_c", f"{p}_zp"], [f"{p}_q"], name=f"{p}_subzp"),
        ]
    elif isinstance(fmt, FloatFormat):
        n_nodes, n_inits = _minifloat_round(f"{p}_v", f"{p}_q", fmt, p)
        nodes += n_nodes
        inits += n_inits
    else:
        raise ValueError(f"{fmt.name}: block formats are supported for weights only")
    nodes.append(helper.make_node("Mul", [f"{p}_q", f"{p}_scale"], [y], name=f"{p}_mul"))
    return nodes, inits


def _per_tensor(value) -> np.ndarray:
    value = np.asarray(value, dtype=np.float32)
    if value.size != 1:
        raise ValueError("activation fake-quant patterns take per-tensor scales and zero points")
    return value.reshape(())


def _minifloat_round(v: str, out: str, fmt: FloatFormat, p: str) -> tuple[Nodes, Inits]:
    """Round v (already divided by the scale) onto fmt's grid, saturating at +-max, ties to even."""
    inits = [_const(f"{p}_max", fmt.max), _const(f"{p}_zero", 0.0)]
    nodes = [
        helper.make_node("Abs", [v], [f"{p}_abs"], name=f"{p}_abs"),
        helper.make_node("Min", [f"{p}_abs", f"{p}_max"], [f"{p}_a"], name=f"{p}_sat"),
    ]
    # the grid step of a's binade: start at the subnormal step, and for each power of two 2^e <= a (ascending)
    # take that binade's step; elementwise Where on scalars, no extra tensor axis
    step = f"{p}_step{fmt.min_exp}"
    inits.append(_const(step, 2.0 ** (fmt.min_exp - fmt.man_bits)))
    for e in range(fmt.min_exp + 1, fmt.max_exp + 1):
        inits += [_const(f"{p}_t{e}", 2.0**e), _const(f"{p}_s{e}", 2.0 ** (e - fmt.man_bits))]
        nodes += [
            helper.make_node("GreaterOrEqual", [f"{p}_a", f"{p}_t{e}"], [f"{p}_ge{e}"], name=f"{p}_ge{e}"),
            helper.make_node("Where", [f"{p}_ge{e}", f"{p}_s{e}", step], [f"{p}_step{e}"], name=f"{p}_where{e}"),
        ]
        step = f"{p}_step{e}"
    nodes += [
        helper.make_node("Div", [f"{p}_a", step], [f"{p}_units"], name=f"{p}_tounits"),
        helper.make_node("Round", [f"{p}_units"], [f"{p}_runits"], name=f"{p}_round"),
        helper.make_node("Mul", [f"{p}_runits", step], [f"{p}_mag"], name=f"{p}_fromunits"),
        helper.make_node("Neg", [f"{p}_mag"], [f"{p}_negmag"], name=f"{p}_neg"),
        helper.make_node("Less", [v, f"{p}_zero"], [f"{p}_isneg"], name=f"{p}_sign"),
        helper.make_node("Where", [f"{p}_isneg", f"{p}_negmag", f"{p}_mag"], [out], name=f"{p}_where"),
    ]
    return nodes, inits


def weight_decode_pattern(entry: TensorQuant, weight: np.ndarray, out: str) -> tuple[Nodes, Inits, int]:
    """Return nodes and initializers that rebuild fake_quant(weight) from stored codes, and the stored bytes."""
    fmt = entry.format
    p = f"{entry.tensor}_fq"
    if isinstance(fmt, BlockFormat):
        element = fmt.element
        axis = entry.axis if entry.axis is not None else weight.ndim - 1
        exponent = mx_scale_exponents(weight, fmt, axis)
        step = 2.0**-6 if isinstance(element, IntFormat) else 1.0
        scale = np.ldexp(np.float32(step), exponent).astype(np.float32)
        codes = encode(weight, fmt, axis=axis)
        block = fmt.block_size
        scale_bytes = exponent.size  # one E8M0 byte per block
    else:
        element = fmt
        axis, block = entry.axis, entry.block_size
        scale = np.asarray(entry.scale, dtype=np.float32)
        # (q * s) / s can miss q by an ulp; re-rounding with scale 1 snaps it back onto the grid exactly
        units = fake_quant(entry.apply(weight) / expand_scale(scale, weight.shape, axis, block), fmt)
        codes = encode(units, fmt)
        scale_bytes = scale.size * 4
    table = decode_table(element)
    if isinstance(element, IntFormat) and entry.zero_point is not None:
        raise ValueError("weight decode patterns take symmetric (zero point 0) integer weights")
    code_dtype = np.uint8 if element.bits <= 8 else np.uint16
    inits = [_const(f"{p}_table", table)]
    nodes = []
    if block is None:
        inits.append(numpy_helper.from_array(codes.astype(code_dtype), f"{p}_codes"))
        shape = [1] * weight.ndim
        if axis is not None and scale.ndim > 0:
            shape[axis] = -1
        inits.append(_const(f"{p}_scale", scale.reshape(shape) if scale.ndim else scale))
        nodes += [
            helper.make_node("Cast", [f"{p}_codes"], [f"{p}_idx"], name=f"{p}_cast", to=TensorProto.INT64),
            helper.make_node("Gather", [f"{p}_table", f"{p}_idx"], [f"{p}_vals"], name=f"{p}_gather"),
            helper.make_node("Mul", [f"{p}_vals", f"{p}_scale"], [out], name=f"{p}_mul"),
        ]
    else:
        nodes_b, inits_b = _block_decode(p, codes.astype(code_dtype), scale, axis, block, weight.shape, out)
        nodes += nodes_b
        inits += inits_b
    stored = int(np.ceil(codes.size * element.bits / 8)) + scale_bytes
    return nodes, inits, stored


def _block_decode(p, codes, scale, axis, block, shape, out) -> tuple[Nodes, Inits]:
    """Decode codes whose blocks along `axis` share one scale: blocks are laid out as a trailing [nb, block] pair."""
    n = shape[axis]
    nb = scale.shape[axis]
    perm = [d for d in range(len(shape)) if d != axis] + [axis]
    inverse = list(np.argsort(perm))
    moved = np.moveaxis(codes, axis, -1)
    padded = np.zeros(moved.shape[:-1] + (nb * block,), dtype=codes.dtype)
    padded[..., :n] = moved
    blocked = padded.reshape(moved.shape[:-1] + (nb, block))
    scale_blocked = np.moveaxis(scale, axis, -1)[..., None]
    inits = [
        numpy_helper.from_array(blocked, f"{p}_codes"),
        _const(f"{p}_scale", scale_blocked),
        numpy_helper.from_array(np.array(moved.shape[:-1] + (nb * block,), dtype=np.int64), f"{p}_flat"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), f"{p}_start"),
        numpy_helper.from_array(np.array([n], dtype=np.int64), f"{p}_end"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{p}_lastaxis"),
    ]
    nodes = [
        helper.make_node("Cast", [f"{p}_codes"], [f"{p}_idx"], name=f"{p}_cast", to=TensorProto.INT64),
        helper.make_node("Gather", [f"{p}_table", f"{p}_idx"], [f"{p}_vals"], name=f"{p}_gather"),
        helper.make_node("Mul", [f"{p}_vals", f"{p}_scale"], [f"{p}_scaled"], name=f"{p}_mul"),
        helper.make_node("Reshape", [f"{p}_scaled", f"{p}_flat"], [f"{p}_flatv"], name=f"{p}_reshape"),
        helper.make_node(
            "Slice", [f"{p}_flatv", f"{p}_start", f"{p}_end", f"{p}_lastaxis"], [f"{p}_sliced"], name=f"{p}_slice"
        ),
        helper.make_node("Transpose", [f"{p}_sliced"], [out], name=f"{p}_transpose", perm=[int(i) for i in inverse]),
    ]
    return nodes, inits
