"""Turn observed ranges and weights into a per-tensor quantization plan (`TensorQuant` entries)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ..formats import BlockFormat, IntFormat, PerBlock, PerChannel, choose_scale, get_format, scale_for_range
from .config import QuantConfig
from .targets import int32_bias
from ..graph.plan import BIAS_INT32, TensorQuant
from ..graph.points import QuantNode, QuantPoints

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


def weight_format(node: QuantNode, config: QuantConfig, name: str | None = None) -> str:
    """Return the weight format for a node: `name`, else its override, else the config's (int8 -> int7 range when
    kernel-safe)."""
    name = name or config.overrides.get(node.name, config.weights)
    fmt = get_format(name)
    acts = config.acts
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
        return TensorQuant(node.weight, fmt.name, choose_scale(weight, fmt, axis, size), axis, size, role="weight")
    if isinstance(gran, (PerChannel, PerBlock)) and node.channel_axis is not None:
        axis = node.channel_axis
        return TensorQuant(node.weight, fmt.name, choose_scale(weight, fmt, axis), axis, role="weight")
    return TensorQuant(node.weight, fmt.name, choose_scale(weight, fmt), role="weight")


def bias_entry(node: QuantNode, bias: np.ndarray, act: TensorQuant, weight: TensorQuant) -> TensorQuant | None:
    """Return an int32 bias entry (scale s_x * s_w) for integer Conv/Gemm, or None to keep the bias in float.

    Floating-point formats keep a float bias: an int32 bias at scale s_x * s_w underflows and overflows when both
    scales are small (onnxruntime.quantization's FP8 E5M2 path lost the CNN this way, ../shared/RESEARCH.md).
    """
    if node.op_type not in ("Conv", "Gemm") or node.bias is None or weight.block_size is not None:
        return None
    if not (isinstance(act.format, IntFormat) and isinstance(weight.format, IntFormat)):
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


FLOAT = "float"


def promote(fmt_name: str) -> str:
    """Return the next higher precision for a weight format: sub-8-bit -> 8-bit of the same kind -> float."""
    fmt = get_format(fmt_name)
    element = fmt.element if isinstance(fmt, BlockFormat) else fmt
    if element.bits < 8 or isinstance(fmt, BlockFormat):
        return "int8" if isinstance(element, IntFormat) else "fp8_e4m3"
    return FLOAT


def node_entries(node: QuantNode, weights: Mapping[str, np.ndarray], act: TensorQuant | None, fmt_name: str,
                 config: QuantConfig) -> dict[str, TensorQuant]:
    """Return the weight entry (and int32 bias entry, when the kernels take one) of a node in a weight format."""
    entry = weight_entry(node, weights[node.weight], fmt_name, config)
    out = {node.weight: entry}
    if node.bias and act is not None and int32_bias(config.target):
        b = bias_entry(node, weights[node.bias], act, entry)
        if b is not None:
            out[node.bias] = b
    return out


def ladder(node: QuantNode, config: QuantConfig) -> list[str]:
    """Return the node's precision ladder: its planned weight format, then each promotion short of float."""
    names = [get_format(config.overrides.get(node.name, config.weights)).name]
    while (nxt := promote(names[-1])) != FLOAT:
        names.append(nxt)
    return [weight_format(node, config, n) for n in names]


def exclusive_inputs(points: QuantPoints, float_nodes: set[str]) -> set[str]:
    """Return the activations that only nodes in `float_nodes` read (they need no quantizer once those are float).

    A MaxPool/reshape point that only borrows the scale of a tensor left float goes float too, and so does an
    Add/Concat whose joined tensor no quantized op reads, transitively.
    """
    readers: dict[str, set[str]] = {}
    for n in points.nodes:
        for a in n.acts:
            readers.setdefault(a, set()).add(n.name)
    floating = set(float_nodes)
    while True:
        off = {a for a, names in readers.items() if names <= floating}
        follow = {n.name for n in points.nodes if n.name not in floating
                  and (n.scale_from in off or (n.feeds and set(n.feeds) <= floating))}
        if not follow:
            return off
        floating |= follow


def build_plan(points: QuantPoints, ranges, weights: Mapping[str, np.ndarray], config: QuantConfig,
               overrides: Mapping[str, str], float_inputs: set[str] = frozenset()) -> list[TensorQuant]:
    """Return the plan for activation ranges, float weights and per-node weight overrides ("float": keep float);
    activations in `float_inputs` get no quantizer."""
    plan: dict[str, TensorQuant] = {}
    for tensor, (lo, hi) in ranges.items():
        if tensor not in float_inputs:
            plan[tensor] = activation_entry(tensor, lo, hi, config.acts)
    cfg = replace(config, overrides=dict(overrides))
    for node in points.nodes:
        if not node.weight or overrides.get(node.name) == FLOAT:
            continue
        act = plan.get(node.acts[0]) if node.acts else None
        plan.update(node_entries(node, weights, act, weight_format(node, cfg), cfg))
    return list(plan.values())
