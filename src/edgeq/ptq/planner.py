"""Turn observed ranges and weights into a per-tensor quantization plan (`TensorQuant` entries)."""

from __future__ import annotations

import numpy as np

from .config import PerBlock, PerChannel, QuantConfig
from ..formats import BlockFormat, IntFormat, get_format, scale_for_range
from ..graph.plan import BIAS_INT32, TensorQuant
from ..graph.points import QuantNode

_TINY = np.float32(np.finfo(np.float32).tiny)


def activation_entry(tensor: str, lo: float, hi: float, fmt_name: str) -> TensorQuant:
    """Return the per-tensor entry covering [lo, hi]: asymmetric for unsigned ints, symmetric otherwise."""
    fmt = get_format(fmt_name)
    if isinstance(fmt, IntFormat) and not fmt.signed:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        scale = np.float32(max((hi - lo) / (fmt.qmax - fmt.qmin), _TINY))
        zp = np.clip(np.rint(fmt.qmin - lo / scale), fmt.qmin, fmt.qmax)
        return TensorQuant(tensor, fmt.name, np.array(scale, np.float32), zero_point=np.array(zp, np.int64))
    amax = max(abs(lo), abs(hi))
    return TensorQuant(tensor, fmt.name, scale_for_range(np.float32(amax), fmt).reshape(()))


def range_quantizer(fmt_name: str):
    """Return f(lo, hi, values) -> values fake-quantized with the entry `activation_entry` would build."""

    def quantize(lo: float, hi: float, values: np.ndarray) -> np.ndarray:
        e = activation_entry("_", lo, hi, fmt_name)
        return e.apply(values)

    return quantize


def weight_format(node: QuantNode, config: QuantConfig) -> str:
    """Return the weight format for a node: its override, else the config's (int8 -> int7 range when kernel-safe)."""
    name = config.overrides.get(node.name, config.weights)
    fmt = get_format(name)
    acts = get_format(config.acts)
    if (
        config.kernel_safe_int8
        and isinstance(fmt, IntFormat) and fmt.signed and fmt.bits == 8
        and isinstance(acts, IntFormat) and acts.bits == 8
    ):
        return "int7"
    return fmt.name


def weight_entry(node: QuantNode, weight: np.ndarray, fmt_name: str, config: QuantConfig) -> TensorQuant:
    """Return the symmetric weight entry for a node: per tensor, per output channel or per input-channel block."""
    fmt = get_format(fmt_name)
    if isinstance(fmt, BlockFormat):
        axis = node.block_axis if node.block_axis is not None else weight.ndim - 1
        return TensorQuant(node.weight, fmt.name, np.array(1.0, np.float32), axis=axis, role="weight")
    gran = config.granularity
    if isinstance(gran, PerBlock) and node.block_axis is not None and weight.shape[node.block_axis] > 1:
        axis, size = node.block_axis, gran.size
        amax = _block_amax(weight, axis, size)
        return TensorQuant(node.weight, fmt.name, scale_for_range(amax, fmt), axis, size, role="weight")
    if isinstance(gran, (PerChannel, PerBlock)) and node.channel_axis is not None:
        axis = node.channel_axis
        amax = np.abs(np.moveaxis(weight, axis, 0).reshape(weight.shape[axis], -1)).max(axis=1)
        return TensorQuant(node.weight, fmt.name, scale_for_range(amax, fmt), axis, role="weight")
    return TensorQuant(node.weight, fmt.name, scale_for_range(np.abs(weight).max(), fmt).reshape(()), role="weight")


def _block_amax(weight: np.ndarray, axis: int, size: int) -> np.ndarray:
    moved = np.moveaxis(np.abs(weight), axis, -1)
    n = moved.shape[-1]
    nb = -(-n // size)
    padded = np.zeros(moved.shape[:-1] + (nb * size,), dtype=np.float32)
    padded[..., :n] = moved
    amax = padded.reshape(moved.shape[:-1] + (nb, size)).max(axis=-1)
    return np.moveaxis(amax, -1, axis)


def bias_entry(node: QuantNode, bias: np.ndarray, act: TensorQuant, weight: TensorQuant) -> TensorQuant | None:
    """Return an int32 bias entry (scale s_x * s_w) for integer Conv/Gemm, or None to keep the bias in float.

    Floating-point formats keep a float bias: an int32 bias at scale s_x * s_w underflows and overflows when both
    scales are small (onnxruntime.quantization's FP8 E5M2 path lost the CNN this way, ../shared/RESEARCH.md).
    """
    if node.op_type not in ("Conv", "Gemm") or node.bias is None or weight.block_size is not None:
        return None
    if not (isinstance(get_format(act.fmt), IntFormat) and isinstance(get_format(weight.fmt), IntFormat)):
        return None
    s_w = np.asarray(weight.scale, np.float32)
    if s_w.ndim and weight.axis != 0:
        return None  # int32 bias scales run along the output channel, which must be the weight's axis 0
    scale = (np.asarray(act.scale, np.float32) * s_w).astype(np.float32)
    if scale.ndim == 0 and bias.shape != ():
        scale = np.full(bias.shape, scale, np.float32)
    if np.any(np.abs(bias / scale) > 2.0**31 - 1):
        return None
    return TensorQuant(node.bias, BIAS_INT32, scale, axis=0, role="bias")
