"""Quantization-aware wrappers for the layers edgeq quantizes: Linear and Conv1d/2d (input and weight)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..formats.spec import Format
from .quantizer import FakeQuantizer

QUANTIZABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


class QuantLayer(nn.Module):
    """A Linear or Conv whose input and weight pass through fake quantizers before the float op.

    The wrapped layer keeps its parameters (same names under `.layer`), so optimizers, state dicts and the float
    model stay in step. Bias stays float (exported as int32 or float by the runtime, as `edgeq quantize` does).
    """

    def __init__(self, layer: nn.Module, weight_fmt: Format | None, act_fmt: Format | None, granularity: str,
                 learn_scales: bool) -> None:
        super().__init__()
        self.layer = layer
        # MX blocks run along the reduction axis: input features of Linear, input channels of Conv.
        self.weight_quant = None if weight_fmt is None else FakeQuantizer(
            weight_fmt, 0 if granularity == "channel" else None, "learned" if learn_scales else "dynamic", block_axis=1
        )
        act_block_axis = -1 if isinstance(layer, nn.Linear) else 1
        self.input_quant = None if act_fmt is None else FakeQuantizer(
            act_fmt, None, "learned" if learn_scales else "fixed", block_axis=act_block_axis
        )
        if self.weight_quant is not None and learn_scales:
            self.weight_quant.set_range(self.weight_quant.amax(layer.weight))
        self.observing = False
        self.observed_amax: torch.Tensor | None = None

    def quantized_weight(self) -> torch.Tensor:
        """Return the weight as the layer uses it (fake-quantized, or float when weights stay float)."""
        w = self.layer.weight
        return w if self.weight_quant is None else self.weight_quant(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            amax = x.detach().abs().amax()
            self.observed_amax = amax if self.observed_amax is None else torch.maximum(self.observed_amax, amax)
        if self.input_quant is not None and not self.observing:
            x = self.input_quant(x)
        w = self.quantized_weight()
        layer = self.layer
        if isinstance(layer, nn.Linear):
            return F.linear(x, w, layer.bias)
        return layer._conv_forward(x, w, layer.bias)
