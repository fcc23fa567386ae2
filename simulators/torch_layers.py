"""torch layers whose forward pass runs on simulated crossbar tiles, with straight-through gradients.

    model = convert_to_analog(trained_model, "rram", seed=0)    # a copy; Linear/Conv2d -> AnalogLinear/AnalogConv2d
    model.eval(); set_drift_time(model, 86400.0)                 # evaluate one day after programming
    reprogram(model, seed=1)                                     # another chip: fresh programming noise and faults

Hardware-aware training: in `train()` mode every forward programs the current weights afresh (new programming
noise and faults, read noise, ADC) so the network learns weights that tolerate them; backward is the gradient
of the ideal layer (straight-through estimator), as aihwkit's hardware-aware training does. In `eval()` mode the
weights are programmed once (and again only after they change or on `reprogram`). Both modes read the tiles at
`t_seconds` (set with `set_drift_time`): training at the deployment time trains against that time's noise.
The bias is added digitally after the ADC, in float.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from edgeq.errors import ConfigError

from .crossbar import ProgrammedArray, program
from .presets import CrossbarConfig, get_preset

__all__ = [
    "AnalogConv2d",
    "AnalogLinear",
    "analog_layers",
    "convert_to_analog",
    "reprogram",
    "set_drift_time",
    "with_config",
]


def _as_config(config: CrossbarConfig | str) -> CrossbarConfig:
    return get_preset(config) if isinstance(config, str) else config


class _AnalogMixin:
    """Shared state of analog layers: config, random streams, programmed array cache, drift time."""

    config: CrossbarConfig
    t_seconds: float

    def _init_analog(self, config: CrossbarConfig | str, seed: int) -> None:
        self.config = _as_config(config)
        self.t_seconds = 0.0
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart this layer's random streams (programming and read noise) from seed and drop the programmed array."""
        self._seed = int(seed)
        self._program_rng = np.random.default_rng([self._seed, 0])
        self._read_rng = np.random.default_rng([self._seed, 1])
        self._array: ProgrammedArray | None = None
        self._array_version: tuple | None = None

    def _weight_matrix(self) -> torch.Tensor:
        """Return the (in, out) matrix the tiles store."""
        raise NotImplementedError

    def programmed_array(self) -> ProgrammedArray:
        """Return the array holding the current weights, programming it when they changed (or in training)."""
        weight = self.weight  # type: ignore[attr-defined]
        version = (weight.data_ptr(), weight._version)
        if self.training or self._array is None or self._array_version != version:
            w = self._weight_matrix().detach().cpu().double().numpy()
            self._array = program(w, self.config, self._program_rng)
            self._array_version = version
        return self._array

    def _simulate(self, x2d: torch.Tensor) -> torch.Tensor:
        """Return the simulated (rows, out) MVM of a 2-D input, as a tensor without gradient."""
        arr = self.programmed_array()
        y = arr.matmul(x2d.detach().cpu().float().numpy(), t_seconds=self.t_seconds, rng=self._read_rng)
        return torch.from_numpy(y).to(x2d.dtype)


class AnalogLinear(nn.Linear, _AnalogMixin):
    """nn.Linear computed on simulated crossbar tiles (digital bias); gradients are those of the ideal layer."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        config: CrossbarConfig | str = "ideal",
        seed: int = 0,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self._init_analog(config, seed)

    @classmethod
    def from_linear(cls, layer: nn.Linear, config: CrossbarConfig | str, seed: int = 0) -> AnalogLinear:
        """Return an AnalogLinear with layer's weights and bias."""
        out = cls(layer.in_features, layer.out_features, layer.bias is not None, config, seed)
        out.load_state_dict(layer.state_dict())
        return out

    def _weight_matrix(self) -> torch.Tensor:
        return self.weight.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ideal = F.linear(x, self.weight)
        sim = self._simulate(x.reshape(-1, self.in_features)).reshape(ideal.shape)
        y = ideal + (sim - ideal).detach()  # value of the simulation, gradient of the ideal layer
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, preset={self.config.name}"


class AnalogConv2d(nn.Conv2d, _AnalogMixin):
    """nn.Conv2d computed as im2col MVMs on simulated crossbar tiles (digital bias, straight-through gradients)."""

    def __init__(self, *args, config: CrossbarConfig | str = "ideal", seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise ConfigError("AnalogConv2d supports zero padding given as numbers only")
        self._init_analog(config, seed)

    @classmethod
    def from_conv(cls, layer: nn.Conv2d, config: CrossbarConfig | str, seed: int = 0) -> AnalogConv2d:
        """Return an AnalogConv2d with layer's hyper-parameters, weights and bias."""
        out = cls(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
            bias=layer.bias is not None,
            config=config,
            seed=seed,
        )
        out.load_state_dict(layer.state_dict())
        return out

    def _weight_matrix(self) -> torch.Tensor:
        return self.weight.reshape(self.out_channels, -1).t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups != 1:
            raise ConfigError("AnalogConv2d supports groups=1 only")
        ideal = F.conv2d(x, self.weight, None, self.stride, self.padding, self.dilation, self.groups)
        cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)  # (N, C*kh*kw, L)
        n, k, length = cols.shape
        sim = self._simulate(cols.transpose(1, 2).reshape(n * length, k))
        sim = sim.reshape(n, length, self.out_channels).transpose(1, 2).reshape(ideal.shape)
        y = ideal + (sim - ideal).detach()
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, preset={self.config.name}"


def analog_layers(module: nn.Module) -> list[_AnalogMixin]:
    """Return the analog layers inside module, in registration order."""
    return [m for m in module.modules() if isinstance(m, _AnalogMixin)]


def convert_to_analog(
    module: nn.Module, preset: CrossbarConfig | str = "ideal", seed: int = 0, inplace: bool = False
) -> nn.Module:
    """Return module (a deep copy unless inplace) with every nn.Linear / nn.Conv2d replaced by its analog twin;
    layer k gets seed (seed, k) so its noise differs from the other layers' but is reproducible."""
    config = _as_config(preset)
    root = module if inplace else copy.deepcopy(module)
    counter = [0]

    def layer_seed() -> int:
        counter[0] += 1
        return int(np.random.SeedSequence([seed, counter[0]]).generate_state(1)[0])

    def swap(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            if isinstance(child, _AnalogMixin):
                continue
            if isinstance(child, nn.Linear):
                setattr(parent, name, AnalogLinear.from_linear(child, config, layer_seed()))
            elif isinstance(child, nn.Conv2d) and child.groups == 1 and child.padding_mode == "zeros":
                setattr(parent, name, AnalogConv2d.from_conv(child, config, layer_seed()))
            else:
                swap(child)

    if isinstance(root, nn.Linear):
        return AnalogLinear.from_linear(root, config, layer_seed())
    if isinstance(root, nn.Conv2d):
        return AnalogConv2d.from_conv(root, config, layer_seed())
    swap(root)
    return root


def set_drift_time(module: nn.Module, t_seconds: float) -> nn.Module:
    """Set the time since programming (seconds) at which every analog layer in module is read; returns module."""
    for layer in analog_layers(module):
        layer.t_seconds = float(t_seconds)
    return module


def reprogram(module: nn.Module, seed: int) -> nn.Module:
    """Program every analog layer afresh from seed (another chip: new programming noise, faults, read noise)."""
    for k, layer in enumerate(analog_layers(module)):
        layer.reseed(int(np.random.SeedSequence([seed, k + 1]).generate_state(1)[0]))
    return module


def with_config(module: nn.Module, config: CrossbarConfig | str) -> nn.Module:
    """Switch every analog layer in module to another config (e.g. evaluate a noise-trained model on a preset)."""
    cfg = _as_config(config)
    for layer in analog_layers(module):
        layer.config = cfg
        layer._array = None
    return module
