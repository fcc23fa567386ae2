"""An analog crossbar as a physical layer: a fixed random matrix programmed once onto simulated memristor tiles.

The device physics is `edgeq.simulators` (programming noise and stuck devices drawn once when the array is
programmed, read noise on every MVM, conductance drift / relaxation with time after programming, DAC/ADC). This
module only connects it to the physical-layer protocol: the clock of the layer is the array's time since
programming, and `add_faults` breaks hardware in the field, without re-programming: whole output columns (a broken
bit line or ADC channel, the default) or single devices stuck at G_min / G_max (`faults="devices"`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..errors import UserError
from .physical import PhysicalLayer


def _simulator():
    try:
        from edgeq.simulators import get_preset, program
    except ImportError:
        raise UserError(
            "crossbar physical layers need the crossbar simulator (edgeq.simulators.program/get_preset), which this "
            "build lacks; use --physical wave, or update edgeq"
        ) from None
    return get_preset, program


class CrossbarLayer(PhysicalLayer):
    """y = x W on a simulated analog crossbar, W (in, out) fixed, Gaussian with unit variance, never re-programmed.

    The ideal model (what an engineer would simulate in silico) is x @ W. The noisy twin for hardware-aware
    training is a second array of the same preset programmed from another seed: a statistically identical chip,
    not this one; its output is used with a straight-through gradient of x @ W.
    """

    name = "crossbar"

    def __init__(
        self, in_features: int, out_features: int, preset: str = "rram", seed: int = 0, faults: str = "columns"
    ) -> None:
        super().__init__(in_features, out_features)
        if faults not in ("columns", "devices"):
            raise UserError(f"crossbar faults must be 'columns' or 'devices', got {faults!r}")
        self.faults = faults
        get_preset, program = _simulator()
        try:
            self.config = get_preset(preset)
        except ValueError as err:
            raise UserError(f"crossbar:{preset}: {err}") from None
        self.preset = preset
        self._seed = int(seed)
        self._weights = np.random.default_rng([self._seed, 0]).standard_normal((in_features, out_features))
        self._weights = self._weights.astype(np.float32)
        self._w_torch = torch.from_numpy(self._weights)
        self._program = program
        self._array = program(self._weights, self.config, np.random.default_rng([self._seed, 1]))
        self._read_rng = np.random.default_rng([self._seed, 2])
        self._sibling = None
        self._alive = np.ones(out_features, dtype=np.float32)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._array.matmul(x.numpy(), t_seconds=self.time_s, rng=self._read_rng)
        return torch.from_numpy(y * self._alive)

    def twin(self, x: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        """Return x @ W, or (with noise) a sibling chip's output carrying the gradient of x @ W."""
        ideal = x @ self._w_torch
        if noise is None:
            return ideal
        if self._sibling is None:
            self._sibling = self._program(self._weights, self.config, np.random.default_rng([self._seed, 3]))
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=noise)))
        noisy = torch.from_numpy(self._sibling.matmul(x.detach().numpy(), t_seconds=0.0, rng=rng))
        return ideal + (noisy - ideal).detach()

    def recalibrated_twin(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Return x -> x @ W_eff(t): the weights the array realises now (drift, drift compensation, stuck devices)
        times the live columns, without read noise or converters."""
        w = torch.from_numpy((self._array.effective_weights(self.time_s) * self._alive).astype(np.float32))
        return lambda x: x @ w

    def add_faults(self, rate: float, seed: int) -> None:
        """Break a fraction `rate` of the output columns (they read 0 from now on), or of the devices (half stuck at
        G_min, half at G_max) when the layer was made with faults="devices"."""
        rng = np.random.default_rng(seed)
        if self.faults == "devices":
            self._array.add_stuck_faults(rate / 2, rate / 2, rng)
            return
        dead = rng.random(self.out_features) < rate
        self._alive[dead] = 0.0

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Return the target weights, the realised weights at time 0 and the live-column mask (copies)."""
        return {"weights": self._weights.copy(), "programmed": self._array.effective_weights(0.0).copy(),
                "alive": self._alive.copy()}
