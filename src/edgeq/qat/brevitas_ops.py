"""Brevitas core quantizers (IntQuant, FloatQuant) built for one edgeq format and driven by an external scale.

This is the one module that imports brevitas. It uses brevitas' core layer (not its injector presets) so the scale
comes from edgeq's calibration or a learned parameter, while rounding, clamping and the straight-through
gradient are brevitas' own. Formats brevitas' core cannot express exactly (block/MX formats, FNUZ minifloats,
unsigned ints with zero points) are not built here; `supports` says which are.
"""

from __future__ import annotations

import torch
from brevitas.core.bit_width.float import ComputeMaxMantissa
from brevitas.core.function_wrapper import TensorClamp
from brevitas.core.function_wrapper.clamp import FloatClamp
from brevitas.core.quant.float import FloatQuant
from brevitas.core.quant.int_base import IntQuant
from brevitas.core.utils import StatelessBuffer
from torch import nn

from ..formats.spec import FloatFormat, Format, IntFormat, Specials


def supports(fmt: Format) -> bool:
    """Return True when brevitas' core quantizers reproduce `fmt` exactly (signed ints, non-FNUZ minifloats)."""
    if isinstance(fmt, IntFormat):
        return fmt.signed
    return isinstance(fmt, FloatFormat) and fmt.specials is not Specials.FNUZ


class _ExternalScale(nn.Module):
    """A brevitas scaling_impl that returns the scale handed to it by the owning quantizer."""

    def forward(self, x: torch.Tensor, threshold: torch.Tensor | None = None) -> torch.Tensor:
        return self.scale


class BrevitasFakeQuant(nn.Module):
    """Fake-quantize with brevitas' IntQuant / FloatQuant at a given (broadcastable) scale; returns float values."""

    def __init__(self, fmt: Format) -> None:
        super().__init__()
        if not supports(fmt):
            raise ValueError(f"brevitas' core quantizers do not express {fmt.name} exactly")
        self.fmt = fmt
        if isinstance(fmt, IntFormat):
            self.impl = IntQuant(narrow_range=False, signed=True, input_view_impl=nn.Identity())
            self.register_buffer("bit_width", torch.tensor(float(fmt.bits)), persistent=False)
            return
        self.scaling = _ExternalScale()
        clamp = FloatClamp(TensorClamp(), signed=True, max_available_float=fmt.max, saturating=True)
        self.impl = FloatQuant(
            signed=True,
            exponent_bit_width_impl=StatelessBuffer(torch.tensor(float(fmt.exp_bits))),
            mantissa_bit_width_impl=StatelessBuffer(torch.tensor(float(fmt.man_bits))),
            exponent_bias_impl=StatelessBuffer(torch.tensor(float(fmt.effective_bias))),
            float_clamp_impl=clamp,
            input_view_impl=nn.Identity(),
            compute_max_mantissa=ComputeMaxMantissa(),
            scaling_impl=self.scaling,
        )

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Return x rounded to the format's grid times `scale` (saturating, ties to even, STE gradient)."""
        if isinstance(self.fmt, IntFormat):
            # + 0.0 turns brevitas' -0.0 (round of a small negative) into +0.0: an integer grid has no signed zero.
            return self.impl(scale, torch.zeros_like(scale), self.bit_width, x) + 0.0
        self.scaling.scale = scale
        try:
            return self.impl(x)[0]
        finally:
            self.scaling.scale = None  # hold no graph tensor between calls (deepcopy, state_dict stay clean)
