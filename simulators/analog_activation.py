"""A torch activation whose forward is a ramp NL-ADC (or a linear ADC + lookup table) and whose backward is f'.

Forward: the programmed ADC's thresholds (with read noise per sweep), comparator offsets and noise decide the code;
the output is the level table at that code. Backward: the straight-through estimator of the smooth f, so the same
module serves hardware-aware training and inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from edgeq.errors import UserError

from .ramp_adc import LinearLutADC, ProgrammedRamp, RampADC, RampADCConfig
from .ramp_kernels import ramp_convert_two_step

TORCH_FUNCTIONS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": torch.nn.functional.hardsigmoid,
    "relu_clip": lambda x: torch.clamp(x, 0.0, 1.0),
    "softsign": torch.nn.functional.softsign,
    "exp": torch.exp,
}

KINDS = ("exact", "ramp", "linear")


@dataclass(frozen=True)
class ActivationSpec:
    """How one gate's nonlinearity is computed: exactly, by a ramp NL-ADC, or by a linear ADC + digital table.

    `adc` gives the bits and non-idealities. A linear ADC has no ramp memristors: only its comparator offset and
    noise apply; its input span is the function's default span (see `ramp_functions.NAMED`).
    """

    kind: str = "exact"
    adc: RampADCConfig = field(default_factory=RampADCConfig)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"activation kind must be one of {KINDS}, got {self.kind!r}")


class AnalogActivation(torch.nn.Module):
    """Applies f to [B, C] column outputs through a programmed ADC bank of C comparators (or exactly)."""

    def __init__(self, function: str, spec: ActivationSpec, n_columns: int, seed: int = 0) -> None:
        super().__init__()
        if function not in TORCH_FUNCTIONS:
            raise UserError(f"analog activations support {sorted(TORCH_FUNCTIONS)}, got {function!r}")
        self.function = function
        self.spec = spec
        self.n_columns = n_columns
        self._f = TORCH_FUNCTIONS[function]
        self._rng = np.random.default_rng(seed)
        self.ramp: ProgrammedRamp | None = None
        if spec.kind == "exact":
            return
        cfg = RampADCConfig(**{**spec.adc.__dict__, "function": function})
        if spec.kind == "ramp":
            self.ramp = RampADC(cfg).program(n_columns, self._rng)
            thresholds, table = self.ramp.thresholds(1, None, read_noise=False)[0], self.ramp.table
            offsets = self.ramp.column_offset
        else:
            lin = LinearLutADC(cfg.bits, function, cfg.x_range)
            thresholds, table = lin.thresholds, lin.table
            offsets = np.zeros(n_columns, np.float32)
            if cfg.comparator_offset > 0:
                offsets = (-cfg.comparator_offset * self._rng.standard_normal(n_columns)).astype(np.float32)
        self.register_buffer("thresholds", torch.as_tensor(np.asarray(thresholds), dtype=torch.float32))
        self.register_buffer("table", torch.as_tensor(np.asarray(table), dtype=torch.float32))
        self.register_buffer("column_offset", torch.as_tensor(np.asarray(offsets), dtype=torch.float32))

    def reseed(self, seed: int) -> None:
        """Restart the per-conversion noise stream (read and comparator noise) from seed."""
        self._rng = np.random.default_rng(seed)

    def quantise(self, x: torch.Tensor) -> torch.Tensor:
        """Return the ADC's output for x [B, C] (no gradient)."""
        cfg = self.spec.adc
        flat = x.detach().reshape(-1, self.n_columns)
        xe = flat + self.column_offset
        if cfg.comparator_noise > 0:
            noise = self._rng.standard_normal(tuple(flat.shape)).astype(np.float32)
            xe = xe + cfg.comparator_noise * torch.from_numpy(noise)
        if self.ramp is not None and cfg.has_read_noise and cfg.two_step:
            # coarse-fine with a read-noise draw per sweep: the count is no longer one search over one ramp
            coarse, fine = self.ramp.two_step_thresholds(flat.shape[0], self._rng)
            xn = xe.contiguous().numpy()
            out = ramp_convert_two_step(xn, np.ones(self.n_columns, np.float32), np.zeros(self.n_columns, np.float32),
                                        None, coarse, fine, self.ramp.table)
            return torch.from_numpy(out).reshape(x.shape)
        if self.ramp is not None and cfg.has_read_noise:
            thr = torch.from_numpy(np.ascontiguousarray(self.ramp.thresholds(flat.shape[0], self._rng), np.float32))
            code = torch.searchsorted(thr, xe.contiguous(), right=True)
        else:
            code = torch.bucketize(xe, self.thresholds, right=True)
        return self.table[code].reshape(x.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the quantised f(x) with the gradient of f (straight-through), or f(x) when exact."""
        exact = self._f(x)
        if self.spec.kind == "exact":
            return exact
        return exact + (self.quantise(x) - exact).detach()
