"""One fake quantizer for one tensor: brevitas' core quantizers where they express the format exactly, else
edgeq's torch fake_quant (straight-through gradient) for MX block formats, FNUZ minifloats and unsigned ints."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..formats import fake_quant, scale_for_range
from ..formats.spec import BlockFormat, Format, IntFormat
from .brevitas_ops import BrevitasFakeQuant, supports


def format_top(fmt: Format) -> float:
    """Return the value a symmetric scale maps amax onto (qmax for ints, max for minifloats)."""
    return float(fmt.qmax) if isinstance(fmt, IntFormat) else float(fmt.max)


class FakeQuantizer(nn.Module):
    """Fake-quantize a tensor to `fmt` with a per-tensor or per-channel scale (channel axis `axis`).

    `mode` is "dynamic" (scale = max|x| / top, recomputed each call: weights follow training), "fixed" (a buffer
    set by calibration) or "learned" (a parameter initialised by calibration, trained with the model). MX formats
    ignore the scale: their shared block exponents come from the data. `block_axis` is the axis MX blocks run along.
    """

    def __init__(self, fmt: Format, axis: int | None, mode: str, block_axis: int = -1) -> None:
        super().__init__()
        if mode not in ("dynamic", "fixed", "learned"):
            raise ValueError(f"mode must be dynamic, fixed or learned, got {mode!r}")
        self.fmt, self.axis, self.mode, self.block_axis = fmt, axis, mode, block_axis
        self.backend = "brevitas" if supports(fmt) else "edgeq"
        self.brevitas = BrevitasFakeQuant(fmt) if self.backend == "brevitas" else None
        if mode == "learned":
            self.register_parameter("scale", None)
        else:
            self.register_buffer("scale", None)
        self.calibrated = mode == "dynamic" or isinstance(fmt, BlockFormat)

    def amax(self, x: torch.Tensor) -> torch.Tensor:
        """Return max|x| per tensor (shape []) or per channel (shape [C])."""
        if self.axis is None:
            return x.detach().abs().amax()
        dims = [d for d in range(x.dim()) if d != self.axis % x.dim()]
        return x.detach().abs().amax(dim=dims)

    def set_range(self, amax: torch.Tensor) -> None:
        """Set the scale from an observed max|x| (calibration): symmetric, amax onto the format's top value."""
        if isinstance(self.fmt, BlockFormat):
            return
        value = torch.from_numpy(np.asarray(scale_for_range(amax.detach().cpu().numpy(), self.fmt), dtype=np.float32))
        if self.mode == "learned" and self.scale is not None:
            with torch.no_grad():
                self.scale.copy_(value)  # keep the parameter object, so an optimizer holding it stays valid
        else:
            self.scale = nn.Parameter(value) if self.mode == "learned" else value
        self.calibrated = True

    def _broadcast(self, scale: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if scale.dim() == 0 or self.axis is None:
            return scale
        shape = [1] * x.dim()
        shape[self.axis % x.dim()] = -1
        return scale.reshape(shape)

    def current_scale(self, x: torch.Tensor) -> torch.Tensor:
        """Return the scale used for x (dynamic: from x itself)."""
        if self.mode == "dynamic":
            top = format_top(self.fmt)
            return torch.clamp(self.amax(x) / top, min=torch.finfo(torch.float32).tiny)
        if self.scale is None:
            raise RuntimeError("this quantizer has no scale yet: run edgeq.qat.calibrate(model, batches) first")
        return self.scale.abs() + torch.finfo(torch.float32).tiny if self.mode == "learned" else self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return x rounded onto the format's grid (float32 values, straight-through gradient)."""
        if isinstance(self.fmt, BlockFormat):
            return fake_quant(x, self.fmt, axis=self.block_axis)
        scale = self._broadcast(self.current_scale(x), x)
        if self.brevitas is not None:
            return self._brevitas_lsq(x, scale)
        if self.mode == "learned":
            # Divide outside the STE so the scale receives a gradient through x / s and the final * s.
            return fake_quant(x / scale, self.fmt, 1.0) * scale
        scale = scale.detach().reshape(-1) if self.axis is not None else scale.detach()
        return fake_quant(x, self.fmt, scale, self.axis)

    def _brevitas_lsq(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """brevitas rounds (no autograd graph through its ops); the gradient is the LSQ straight-through one.

        With u = clip(x / s) to the format's range and q brevitas' result: y = s * (u + (q / s - u).detach()), so
        dy/dx = 1 inside the range and 0 where it clips, and dy/ds = q/s - x/s inside, +-top outside (LSQ). Running
        brevitas without autograd is what keeps a QAT step within ~3x of a float step.
        """
        with torch.no_grad():
            q = self.brevitas(x.detach(), scale.detach())
        if not (x.requires_grad or scale.requires_grad):
            return q
        lo = float(self.fmt.qmin) if isinstance(self.fmt, IntFormat) else -float(self.fmt.max)
        u = torch.clamp(x / scale, lo, format_top(self.fmt))
        return scale * (u + (q / scale - u).detach())

    def extra_repr(self) -> str:
        return f"{self.fmt.name}, axis={self.axis}, mode={self.mode}, backend={self.backend}"
