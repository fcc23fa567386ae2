"""Physical layers: black boxes with `forward(x) -> y` that may be noisy, drifting and never differentiated.

A physical layer is hardware (or a simulation of it) that we can only run forward. Training code calls
`forward` under `torch.no_grad()` on a detached input, so no gradient can ever reach it. A layer may also offer
a differentiable `twin` (an idealised model of itself), which only the backprop baselines use.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Callable

import numpy as np
import torch

from ..errors import UserError


class PhysicalLayer(ABC):
    """A black-box layer `[N, in_features] -> [N, out_features]`; counts the samples it has processed.

    Subclasses implement `_forward`. The hardware clock (`time_s`) moves only through `advance`, which lets a
    layer drift; `add_faults` breaks parts of it. Both are no-ops unless a layer models them.
    """

    name: str = "physical"

    def __init__(self, in_features: int, out_features: int) -> None:
        if in_features <= 0 or out_features <= 0:
            raise UserError(f"physical layer sizes must be positive, got {in_features} -> {out_features}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.passes = 0
        self.time_s = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the layer's response to x [N, in_features] (float32); checks shapes and NaN, counts passes."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise UserError(
                f"{self.name} layer expects inputs of shape [N, {self.in_features}], got {list(x.shape)}; "
                "check the layer sizes of the network"
            )
        with torch.no_grad():
            y = self._forward(x.detach())
        y = torch.as_tensor(y, dtype=torch.float32)
        if y.shape != (x.shape[0], self.out_features):
            raise UserError(
                f"{self.name} layer returned shape {list(y.shape)}, expected [{x.shape[0]}, {self.out_features}]; "
                "fix the physical layer's output size"
            )
        if not torch.isfinite(y).all():
            raise UserError(
                f"{self.name} layer returned NaN or Inf for {int((~torch.isfinite(y)).any(1).sum())} of "
                f"{x.shape[0]} samples; check the hardware or the function wrapped as a physical layer"
            )
        self.passes += int(x.shape[0])
        return y.detach()

    __call__ = forward

    @abstractmethod
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the raw response to a detached input (called under no_grad)."""

    def twin(self, x: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        """Return a differentiable model of this layer at time 0: ideal, or with its noise statistics drawn from
        `noise` when a generator is given (hardware-aware training)."""
        raise UserError(
            f"{self.name} layer has no differentiable twin, so the backprop baselines cannot use it; "
            "pass twin= to CallableLayer or train with forward-forward only"
        )

    @property
    def twin_macs_per_sample(self) -> int:
        """Return the digital multiply-accumulates one sample costs in the twin (the in-silico simulation)."""
        return self.in_features * self.out_features

    def recalibrated_twin(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Return a differentiable, noiseless model of the layer as it is now (drift and dead outputs included).

        This is an oracle calibration: the simulation hands over its current transfer, where a lab would measure
        it with `calibration_passes` probe inputs. The returned function is fixed; call again after `advance`.
        """
        raise UserError(
            f"{self.name} layer cannot be recalibrated to its drifted state; the recalibrated and physics-aware "
            "backprop baselines need a layer that can (wave, crossbar, identity)"
        )

    @property
    def can_recalibrate(self) -> bool:
        """Return whether `recalibrated_twin` is available."""
        return type(self).recalibrated_twin is not PhysicalLayer.recalibrated_twin

    @property
    def calibration_passes(self) -> int:
        """Return the probe inputs one recalibration needs at least (a linear layer: one per input)."""
        return self.in_features

    def advance(self, seconds: float) -> None:
        """Move the hardware clock forward by `seconds` (drift happens here)."""
        if seconds < 0:
            raise UserError(f"time can only move forward, got advance({seconds})")
        self.time_s += float(seconds)

    def add_faults(self, rate: float, seed: int) -> None:
        """Break a fraction `rate` of the layer's elements (layers without a fault model ignore this)."""

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Return copies of the layer's fixed physical parameters (tests check training never changes them)."""
        return {}


class WaveLayer(PhysicalLayer):
    """A fixed random scattering medium with intensity detection: y = gain * |x W|^2 + noise, W complex Gaussian.

    This is the transfer of an optical/acoustic/microwave cavity seen by an intensity detector (as in Momeni et
    al. 2023). Read noise is multiplicative (relative, per output, per call) plus an additive floor. Drift rotates
    the transfer matrix toward an independent one: W(t) = cos(a) W0 + sin(a) W1 with a = pi/2 * min(t/T, 1),
    T = `decorrelation_s`, as a cavity whose temperature or geometry slowly changes. Faults kill detector pixels.
    """

    name = "wave"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        seed: int,
        noise: float = 0.02,
        decorrelation_s: float = 3600.0,
    ) -> None:
        super().__init__(in_features, out_features)
        rng = np.random.default_rng(seed)
        # Unit-norm inputs then give outputs of order 1: E|x W|^2 = |x|^2 for entries of variance 1 (re + im).
        shape = (2, in_features, out_features)
        self._w0 = torch.from_numpy((rng.standard_normal(shape) / math.sqrt(2)).astype(np.float32))
        self._w1 = torch.from_numpy((rng.standard_normal(shape) / math.sqrt(2)).astype(np.float32))
        self._alive = torch.ones(out_features)
        self.noise = float(noise)
        self.decorrelation_s = float(decorrelation_s)
        self._noise_gen = torch.Generator().manual_seed(int(seed) + 1)
        self._cached = (0.0, self._w0)

    @property
    def twin_macs_per_sample(self) -> int:
        """Return 2 * in * out: the real and imaginary parts of x W."""
        return 2 * self.in_features * self.out_features

    def _matrix(self) -> torch.Tensor:
        if self._cached[0] != self.time_s:  # the transfer changes only when the clock moves
            frac = min(self.time_s / self.decorrelation_s, 1.0) if self.decorrelation_s > 0 else 0.0
            angle = 0.5 * math.pi * frac
            self._cached = (self.time_s, math.cos(angle) * self._w0 + math.sin(angle) * self._w1)
        return self._cached[1]

    @staticmethod
    def _intensity(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (x @ w[0]) ** 2 + (x @ w[1]) ** 2

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._intensity(x, self._matrix())
        if self.noise > 0:
            eps = torch.randn(y.shape, generator=self._noise_gen)
            y = y * (1 + self.noise * eps) + 0.1 * self.noise * torch.randn(y.shape, generator=self._noise_gen)
        return y * self._alive

    def twin(self, x: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        """Return |x W0|^2 (the transfer as calibrated at time 0), with read noise drawn from `noise` if given."""
        y = self._intensity(x, self._w0)
        if noise is not None and self.noise > 0:
            eps = torch.randn(y.shape, generator=noise)
            y = y * (1 + self.noise * eps) + 0.1 * self.noise * torch.randn(y.shape, generator=noise)
        return y

    def recalibrated_twin(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Return x -> |x W(t)|^2 * alive: the transfer and the live pixels as they are now, without read noise."""
        w, alive = self._matrix().clone(), self._alive.clone()
        return lambda x: self._intensity(x, w) * alive

    @property
    def calibration_passes(self) -> int:
        """Return in (in + 1) / 2: for real inputs each output is a quadratic form x^T A_j x (A_j symmetric), which
        intensity measurements identify only with that many probe inputs."""
        return self.in_features * (self.in_features + 1) // 2

    def add_faults(self, rate: float, seed: int) -> None:
        """Kill a fraction `rate` of the detector pixels (their output reads 0 from now on)."""
        dead = torch.from_numpy(np.random.default_rng(seed).random(self.out_features) < rate)
        self._alive = torch.where(dead, torch.zeros_like(self._alive), self._alive)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Return copies of the two transfer matrices and the live-pixel mask."""
        return {"w0": self._w0.numpy().copy(), "w1": self._w1.numpy().copy(), "alive": self._alive.numpy().copy()}


class CallableLayer(PhysicalLayer):
    """Wrap any function as a physical layer: a hardware driver, a lab instrument, a simulator.

    `fn` receives a float32 NumPy array [N, in_features] (or a torch tensor if `array="torch"`) and returns
    [N, out_features]. `twin`, if given, is a differentiable torch function used only by the backprop baselines.
    """

    name = "callable"

    def __init__(
        self,
        fn: Callable,
        in_features: int,
        out_features: int,
        twin: Callable[[torch.Tensor], torch.Tensor] | None = None,
        array: str = "numpy",
    ) -> None:
        super().__init__(in_features, out_features)
        if array not in ("numpy", "torch"):
            raise UserError(f"array must be 'numpy' or 'torch', got {array!r}")
        self._fn = fn
        self._twin = twin
        self._array = array

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        arg = x.numpy() if self._array == "numpy" else x
        try:
            out = self._fn(arg)
        except UserError:
            raise
        except Exception as err:  # a user's function: report it as their error, in one line
            raise UserError(f"the wrapped physical function failed: {type(err).__name__}: {err}") from None
        return torch.as_tensor(np.asarray(out, dtype=np.float32) if not torch.is_tensor(out) else out.float())

    def twin(self, x: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        """Return the user's differentiable twin of the function."""
        if self._twin is None:
            return super().twin(x, noise)
        return self._twin(x)


class IdentityLayer(PhysicalLayer):
    """y = x: a perfect, transparent 'physical' layer, to check training against reference implementations."""

    name = "identity"

    def __init__(self, features: int) -> None:
        super().__init__(features, features)

    @property
    def twin_macs_per_sample(self) -> int:
        """Return 0: the identity costs nothing to simulate."""
        return 0

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    def twin(self, x: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        """Return x."""
        return x

    def recalibrated_twin(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Return the identity (it never drifts)."""
        return lambda x: x

    @property
    def calibration_passes(self) -> int:
        """Return 0: nothing to measure."""
        return 0
