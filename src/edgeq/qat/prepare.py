"""Turn a torch model into a quantization-aware one, calibrate it, and re-target it to other formats."""

from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import nn

from ..errors import UserError
from .config import QATConfig
from .modules import QUANTIZABLE, QuantLayer


def quant_layers(model: nn.Module) -> dict[str, QuantLayer]:
    """Return every QuantLayer of a prepared model by its dotted name (the float layer's name)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, QuantLayer)}


def prepare(
    module: nn.Module,
    weights: str | None = "int8",
    acts: str | None = "int8",
    granularity: str = "channel",
    *,
    learn_scales: bool = False,
    overrides: dict[str, tuple[str | None, str | None]] | None = None,
    exclude: Iterable[str] = (),
    calib: Iterable[torch.Tensor] | None = None,
    config: QATConfig | None = None,
) -> nn.Module:
    """Return a copy of `module` whose Linear/Conv layers fake-quantize their inputs and weights.

    Weight quantizers follow max|W| (or learn their scale); activation quantizers need a calibration pass: pass
    `calib` (batches of model inputs) here or call `calibrate` before training. The input model is not modified.
    """
    config = config or QATConfig(weights, acts, granularity, learn_scales, dict(overrides or {}), tuple(exclude))
    model = copy.deepcopy(module)
    names = [name for name, m in model.named_modules() if isinstance(m, QUANTIZABLE)]
    if not names:
        raise UserError("the model has no nn.Linear or nn.Conv1d/Conv2d layers to quantize")
    unknown = (set(config.overrides) | set(config.exclude)) - set(names)
    if unknown:
        raise UserError(f"no quantizable layer named {sorted(unknown)}; layers are: {', '.join(names)}")
    for name in names:
        w_fmt, a_fmt = config.formats_for(name)
        if w_fmt is None and a_fmt is None:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = getattr(parent, child)
        setattr(parent, child, QuantLayer(layer, w_fmt, a_fmt, config.granularity, config.learn_scales))
    model.qat_config = config
    if calib is not None:
        calibrate(model, calib)
    return model


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[torch.Tensor]) -> dict[str, float]:
    """Run float forward passes over `batches`, set every activation scale from max|input|; return the ranges."""
    layers = quant_layers(model)
    was_training = model.training
    model.eval()
    for layer in layers.values():
        layer.observing, layer.observed_amax = True, None
    seen = 0
    try:
        for batch in batches:
            model(batch)
            seen += 1
    finally:
        for layer in layers.values():
            layer.observing = False
        model.train(was_training)
    if seen == 0:
        raise UserError("calibration got no batches; pass at least one batch of model inputs")
    ranges = {}
    for name, layer in layers.items():
        if layer.observed_amax is None:
            raise UserError(f"layer {name} was not reached by the calibration batches; check the model's forward")
        if layer.input_quant is not None:
            layer.input_quant.set_range(layer.observed_amax)
        ranges[name] = float(layer.observed_amax)
    return ranges


def float_model(model: nn.Module) -> nn.Module:
    """Return a float copy of a prepared model (wrappers replaced by their layers, trained weights kept)."""
    out = copy.deepcopy(model)
    for name in list(quant_layers(out)):
        parent_name, _, child = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, child, getattr(parent, child).layer)
    if hasattr(out, "qat_config"):
        del out.qat_config
    return out


def convert(model: nn.Module, calib: Iterable[torch.Tensor], weights: str | None = "int8", acts: str | None = "int8",
            granularity: str = "channel") -> nn.Module:
    """Return the model (trained with any formats) re-quantized to new formats by PTQ on its trained weights.

    This is the FP8-trained -> INT8 path: the float weights the QAT run learned are re-calibrated for `weights`
    and `acts`; nothing is retrained.
    """
    return prepare(float_model(model), weights, acts, granularity, calib=list(calib))
