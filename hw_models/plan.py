"""Precision plans: which number formats each layer's weights, activations and accumulator use.

A plan is a format name for every layer ("int8"), a dict {"default": ..., "layers": {name: fmt or
{"weight": ..., "act": ..., "acc": ...}}}, or the path of a JSON report from `edgeq quantize`, whose "layers" may
be that dict or a list of objects with "name" and weight/activation format keys (weight_fmt/w_fmt/weight,
act_fmt/a_fmt/activation/act, acc_fmt/acc); a top-level "fmt"/"format"/"config" string sets the default
(int8 when the plan names none).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgeq.errors import UserError

from .mac import default_accumulator, parse_accumulator, resolve_format

_WEIGHT_KEYS = ("weight", "weight_fmt", "w_fmt", "weight_format", "w")
_ACT_KEYS = ("act", "act_fmt", "a_fmt", "activation", "activation_fmt", "act_format", "a")
_ACC_KEYS = ("acc", "acc_fmt", "accumulator")
_FMT_KEYS = ("fmt", "format")


@dataclass(frozen=True)
class LayerPrecision:
    """Formats of one layer: weights, activations (inputs), accumulator."""

    weight: str
    act: str
    acc: str

    def label(self) -> str:
        """Return 'w x a -> acc' for tables (w alone when weights and activations share a format)."""
        operands = self.weight if self.weight == self.act else f"{self.weight}x{self.act}"
        return f"{operands}->{self.acc}"


@dataclass(frozen=True)
class PrecisionPlan:
    """A default LayerPrecision and per-layer overrides (by node name)."""

    default: LayerPrecision
    layers: tuple[tuple[str, LayerPrecision], ...] = ()

    def for_layer(self, name: str) -> LayerPrecision:
        """Return the precision of layer `name` (its override or the default)."""
        return dict(self.layers).get(name, self.default)


def make_precision(weight, act=None, acc=None) -> LayerPrecision:
    """Return a validated LayerPrecision (act defaults to weight, acc to int32 / fp32); UserError if unknown."""
    act = weight if act is None else act
    try:
        w, a = resolve_format(weight).name, resolve_format(act).name
        acc = default_accumulator(w, a) if acc is None else acc
        c = parse_accumulator(acc).name
    except ValueError as err:
        raise UserError(str(err)) from None
    return LayerPrecision(w, a, c)


def _first(d: dict, keys) -> str | None:
    return next((d[k] for k in keys if d.get(k) not in (None, "")), None)


def _from_mapping(spec, default: LayerPrecision | None, acc: str | None) -> LayerPrecision:
    if isinstance(spec, str):
        return make_precision(spec, None, acc)
    if not isinstance(spec, dict):
        raise UserError(f"precision entry {spec!r} must be a format name or an object with weight/act formats")
    fmt = _first(spec, _FMT_KEYS)
    w = _first(spec, _WEIGHT_KEYS) or fmt or (default.weight if default else None)
    a = _first(spec, _ACT_KEYS) or fmt or (default.act if default else w)
    if w is None:
        raise UserError(f"precision entry {spec!r} names no weight format")
    return make_precision(w, a, _first(spec, _ACC_KEYS) or acc)


def plan_from_graph(layers, acc: str | None = None) -> PrecisionPlan:
    """Return the plan a QDQ graph encodes: each matrix layer at the formats its DequantizeLinear inputs carry
    (weight or input alone: both take it), every layer without QDQ in fp32."""
    overrides = []
    for layer in layers:
        w, a = getattr(layer, "weight_fmt", None), getattr(layer, "act_fmt", None)
        if w or a:
            overrides.append((layer.name, make_precision(w or a, a or w, acc)))
    return PrecisionPlan(make_precision("fp32", None, acc), tuple(overrides))


def parse_plan(plan, acc: str | None = None, layer_names: list[str] | None = None,
               matrix_names: list[str] | None = None) -> PrecisionPlan:
    """Return a PrecisionPlan from a format name, a dict, a PrecisionPlan or a JSON report path ('auto' or None
    is handled by the caller with plan_from_graph). A dict without a default must set every one of
    `matrix_names` (the layers with MACs): a silent int8 for the rest would price a plan nobody wrote."""
    if isinstance(plan, PrecisionPlan):
        return plan
    if isinstance(plan, LayerPrecision):
        return PrecisionPlan(plan)
    if isinstance(plan, (str, Path)) and str(plan).lower().endswith(".json"):
        path = Path(plan)
        if not path.exists():
            raise UserError(f"plan file {path} does not exist")
        try:
            plan = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise UserError(f"plan file {path} is not JSON ({err})") from None
    if isinstance(plan, str):
        return PrecisionPlan(make_precision(plan, None, acc))
    if not isinstance(plan, dict):
        raise UserError("a plan is a format name, a dict with 'default'/'layers', or a JSON report path")
    top = plan.get("default") or _first(plan, _FMT_KEYS) or plan.get("config")
    if isinstance(top, dict):
        default = _from_mapping(top, None, acc)
    elif isinstance(top, str):
        default = make_precision(top, None, acc)
    else:
        default = None
    raw_layers = plan.get("layers", {})
    if isinstance(raw_layers, list):
        items = []
        for row in raw_layers:
            if not isinstance(row, dict) or "name" not in row:
                raise UserError("each entry of a plan's 'layers' list needs a 'name'")
            items.append((str(row["name"]), row))
    elif isinstance(raw_layers, dict):
        items = list(raw_layers.items())
    else:
        raise UserError("a plan's 'layers' must be a dict or a list")
    layers = tuple((name, _from_mapping(spec, default, acc)) for name, spec in items)
    if default is None:
        unset = [n for n in (matrix_names or []) if n not in dict(layers)]
        if unset:
            raise UserError(f"the plan has no 'default' format and leaves {len(unset)} layer(s) unset "
                            f"({', '.join(unset[:5])}{', ...' if len(unset) > 5 else ''}); add \"default\": \"int8\" "
                            "(or the format you mean) or set every layer")
        default = make_precision("int8", None, acc)  # never used by a matrix layer: all are set
    if layer_names is not None:
        unknown = sorted(set(dict(layers)) - set(layer_names))
        if unknown:
            raise UserError(f"plan names layers not in the model: {', '.join(unknown)}; "
                            f"model layers: {', '.join(layer_names)}")
    return PrecisionPlan(default, layers)
