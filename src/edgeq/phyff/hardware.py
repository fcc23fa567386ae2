"""Build the physical layers of a network from a spec string: "wave", "identity", "crossbar:PRESET[:devices]"."""

from __future__ import annotations

from ..errors import UserError
from .physical import IdentityLayer, PhysicalLayer, WaveLayer

PHYSICAL_KINDS = ("wave", "identity", "crossbar")


def make_physical(spec: str, in_features: int, out_features: int, seed: int) -> PhysicalLayer:
    """Return one physical layer for `spec` mapping in_features -> out_features, seeded."""
    kind, _, arg = spec.partition(":")
    if kind == "wave":
        noise = _float_arg(spec, arg, 0.02)
        return WaveLayer(in_features, out_features, seed=seed, noise=noise)
    if kind == "identity":
        return IdentityLayer(in_features)
    if kind == "crossbar":
        from .crossbar_layer import CrossbarLayer

        preset, _, faults = arg.partition(":")
        return CrossbarLayer(in_features, out_features, preset=preset or "rram", seed=seed, faults=faults or "columns")
    raise UserError(f"unknown physical layer {spec!r}; choose wave[:NOISE], identity or crossbar:PRESET[:devices]")


def _float_arg(spec: str, arg: str, default: float) -> float:
    if not arg:
        return default
    try:
        return float(arg)
    except ValueError:
        raise UserError(f"physical layer {spec!r}: the part after ':' must be a number") from None


def make_hardware(spec: str, in_features: int, width: int, layers: int, seed: int) -> list[PhysicalLayer]:
    """Return `layers` physical layers: the first takes in_features, the rest the digital width.

    Each layer's output width is `width` (the identity keeps its input width). Seeds differ per layer.
    """
    if layers <= 0:
        raise UserError(f"--layers must be at least 1, got {layers}")
    out = []
    dim = in_features
    for k in range(layers):
        out.append(make_physical(spec, dim, width, seed * 1000 + k))
        dim = width
    return out
