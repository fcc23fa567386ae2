"""Analog LSTM and GRU: gate MVMs on simulated crossbar tiles, gate nonlinearities on ramp NL-ADCs, state digital.

Weights and biases use torch.nn.LSTM / nn.GRU names and gate order (LSTM i, f, g, o; GRU r, z, n), so
`AnalogLSTM.from_torch(nn_lstm, config)` evaluates a trained model on analog hardware, and training the module
itself is hardware-aware training: the forward pass sees the quantised, noisy activations, the backward pass uses
f' (straight-through). With every effect off the module equals torch.nn.LSTM / nn.GRU to float tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import torch

from edgeq.errors import UserError

from .adc import ADCConfig
from .analog_activation import ActivationSpec, AnalogActivation
from .crossbar import ProgrammedArray
from .crossbar import program as program_crossbar
from .presets import CrossbarConfig
from .presets import get_preset as get_crossbar_preset
from .ramp_adc import RampADCConfig

LSTM_GATES = {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid", "cell": "tanh"}
GRU_GATES = {"r": "sigmoid", "z": "sigmoid", "n": "tanh"}


@dataclass(frozen=True)
class AnalogRNNConfig:
    """How each gate's nonlinearity and the gate MVMs are computed.

    `activation` applies to every gate except those named in `per_gate` (e.g. (("cell", ActivationSpec()),) keeps
    the cell-state tanh exact). `crossbar` puts the gate MVMs (input and recurrent weights, one array each) on the
    crossbar simulator's tiles (a preset name such as "rram"/"pcm" or a CrossbarConfig; None: exact matmul), read
    `t_seconds` after programming. When the gates use ramp or linear ADCs those ARE the column ADCs, so the tile's
    own ADC is switched off; with exact activations the tile keeps its preset ADC.
    """

    activation: ActivationSpec = field(default_factory=ActivationSpec)
    per_gate: tuple[tuple[str, ActivationSpec], ...] = ()
    crossbar: str | CrossbarConfig | None = None
    t_seconds: float = 0.0
    seed: int = 0

    def spec_for(self, gate: str) -> ActivationSpec:
        """Return the activation spec of one gate."""
        return dict(self.per_gate).get(gate, self.activation)

    def tile_config(self) -> CrossbarConfig | None:
        """Return the crossbar config of the gate tiles (column ADC removed when a ramp/linear ADC replaces it)."""
        if self.crossbar is None:
            return None
        try:
            cfg = get_crossbar_preset(self.crossbar) if isinstance(self.crossbar, str) else self.crossbar
        except ValueError as err:
            raise UserError(str(err)) from None
        if self.activation.kind != "exact":
            cfg = replace(cfg, adc=ADCConfig(bits=None, clip=False))
        return cfg

    @staticmethod
    def uniform(kind: str = "exact", bits: int = 5, adc: RampADCConfig | None = None, **kw: object) -> AnalogRNNConfig:
        """Return a config with the same ADC kind and bits on every gate (non-idealities from `adc`)."""
        base = adc if adc is not None else RampADCConfig()
        spec = ActivationSpec(kind, replace(base, bits=bits))
        return AnalogRNNConfig(activation=spec, **kw)  # type: ignore[arg-type]


class _GateTile(torch.nn.Module):
    """x @ W^T + b with W on crossbar tiles (programmed when W changes; read noise per MVM), or exact when None.

    The value is the simulated MVM, the gradient that of the exact one (straight-through), as in torch_layers.
    """

    def __init__(self, config: CrossbarConfig | None, t_seconds: float, seed: int) -> None:
        super().__init__()
        self.config = config
        self.t_seconds = t_seconds
        self._program_rng = np.random.default_rng([seed, 0])
        self._read_rng = np.random.default_rng([seed, 1])
        self._array: ProgrammedArray | None = None
        self._version: tuple | None = None

    def forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """Return the tile's output for x [B, in]."""
        exact = torch.nn.functional.linear(x, weight)
        if self.config is not None:
            version = (weight.data_ptr(), weight._version)
            if self._array is None or self._version != version:
                self._array = program_crossbar(weight.detach().double().numpy().T, self.config, self._program_rng)
                self._version = version
            sim = self._array.matmul(x.detach().float().numpy(), self.t_seconds, self._read_rng)
            exact = exact + (torch.from_numpy(sim) - exact).detach()
        return exact if bias is None else exact + bias


class _AnalogRNNBase(torch.nn.Module):
    gates: ClassVar[dict[str, str]] = {}
    n_chunks = 1

    def __init__(self, input_size: int, hidden_size: int, config: AnalogRNNConfig, batch_first: bool) -> None:
        super().__init__()
        unknown = {g for g, _ in config.per_gate} - set(self.gates)
        if unknown:
            raise UserError(f"unknown gate(s) {sorted(unknown)}; this cell has gates {sorted(self.gates)}")
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        self.config = config
        k = 1.0 / hidden_size**0.5
        n = self.n_chunks * hidden_size
        gen = torch.Generator().manual_seed(config.seed)
        self.weight_ih_l0 = torch.nn.Parameter((torch.rand(n, input_size, generator=gen) * 2 - 1) * k)
        self.weight_hh_l0 = torch.nn.Parameter((torch.rand(n, hidden_size, generator=gen) * 2 - 1) * k)
        self.bias_ih_l0 = torch.nn.Parameter((torch.rand(n, generator=gen) * 2 - 1) * k)
        self.bias_hh_l0 = torch.nn.Parameter((torch.rand(n, generator=gen) * 2 - 1) * k)
        self.reprogram(config.seed)

    def reprogram(self, seed: int) -> None:
        """Draw a fresh chip instance: new ramp, comparator and weight programming errors (weights unchanged).

        Hardware-aware training calls this every batch so the model learns to tolerate the error distribution
        rather than one chip's errors.
        """
        cfg = self.config
        tile = cfg.tile_config()
        self.mvm_ih = _GateTile(tile, cfg.t_seconds, seed + 1)
        self.mvm_hh = _GateTile(tile, cfg.t_seconds, seed + 2)
        self.act = torch.nn.ModuleDict(
            {g: AnalogActivation(fn, cfg.spec_for(g), self.hidden_size, seed=seed + 10 + i)
             for i, (g, fn) in enumerate(self.gates.items())}
        )

    def reseed(self, seed: int) -> None:
        """Restart every per-conversion noise stream (for reproducible noisy evaluation)."""
        for i, a in enumerate(self.act.values()):
            a.reseed(seed + i)

    def load_torch(self, module: torch.nn.Module) -> None:
        """Copy weights from a single-layer, unidirectional torch.nn.LSTM / nn.GRU with the same sizes."""
        if getattr(module, "num_layers", 1) != 1 or getattr(module, "bidirectional", False):
            raise UserError("only single-layer, unidirectional torch RNNs can be loaded; stack AnalogLSTMs instead")
        with torch.no_grad():
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                src = getattr(module, name, None)
                dst = getattr(self, name)
                if src is None:  # a torch RNN built with bias=False
                    dst.zero_()
                    continue
                if src.shape != dst.shape:
                    raise UserError(f"{name} shape {tuple(src.shape)} does not match {tuple(dst.shape)}")
                dst.copy_(src)

    def _sequence(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise UserError(f"input must be [batch, time, {self.input_size}] or [time, batch, ...], got {tuple(x.shape)}")
        return x.transpose(0, 1) if self.batch_first else x

    def _output(self, ys: list[torch.Tensor]) -> torch.Tensor:
        y = torch.stack(ys, 0)
        return y.transpose(0, 1) if self.batch_first else y


class AnalogLSTM(_AnalogRNNBase):
    """Single-layer LSTM on analog tiles with ramp-ADC gate activations; same interface as torch.nn.LSTM."""

    gates = LSTM_GATES
    n_chunks = 4

    def __init__(
        self, input_size: int, hidden_size: int, config: AnalogRNNConfig = AnalogRNNConfig(), batch_first: bool = False
    ) -> None:
        super().__init__(input_size, hidden_size, config, batch_first)

    @classmethod
    def from_torch(cls, lstm: torch.nn.LSTM, config: AnalogRNNConfig = AnalogRNNConfig()) -> AnalogLSTM:
        """Return an AnalogLSTM with the weights of a trained torch.nn.LSTM."""
        out = cls(lstm.input_size, lstm.hidden_size, config, batch_first=lstm.batch_first)
        out.load_torch(lstm)
        return out

    def step(
        self, x_t: torch.Tensor, h: torch.Tensor, c: torch.Tensor, x_proj: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (h, c) after one time step (x_proj: precomputed input MVM of this step, optional)."""
        xp = self.mvm_ih(x_t, self.weight_ih_l0, self.bias_ih_l0) if x_proj is None else x_proj
        pre = xp + self.mvm_hh(h, self.weight_hh_l0, self.bias_hh_l0)
        gi, gf, gg, go = pre.chunk(4, dim=-1)
        i, f, g, o = self.act["i"](gi), self.act["f"](gf), self.act["g"](gg), self.act["o"](go)
        c = f * c + i * g  # digital cell-state update
        h = o * self.act["cell"](c)
        return h, c

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Return (outputs, (h_n, c_n)) like torch.nn.LSTM (h_n, c_n shaped [1, B, H])."""
        seq = self._sequence(x)
        batch = seq.shape[1]
        if state is None:
            h = seq.new_zeros(batch, self.hidden_size)
            c = seq.new_zeros(batch, self.hidden_size)
        else:
            h, c = state[0][0], state[1][0]
        # the input MVMs of all steps are independent of h: one batched MVM (read noise is drawn per row anyway)
        x_proj = self.mvm_ih(seq.reshape(-1, self.input_size), self.weight_ih_l0, self.bias_ih_l0)
        x_proj = x_proj.reshape(seq.shape[0], batch, -1)
        ys = []
        for t in range(seq.shape[0]):
            h, c = self.step(seq[t], h, c, x_proj[t])
            ys.append(h)
        return self._output(ys), (h.unsqueeze(0), c.unsqueeze(0))


class AnalogGRU(_AnalogRNNBase):
    """Single-layer GRU on analog tiles with ramp-ADC gate activations; same interface as torch.nn.GRU."""

    gates = GRU_GATES
    n_chunks = 3

    def __init__(
        self, input_size: int, hidden_size: int, config: AnalogRNNConfig = AnalogRNNConfig(), batch_first: bool = False
    ) -> None:
        super().__init__(input_size, hidden_size, config, batch_first)

    @classmethod
    def from_torch(cls, gru: torch.nn.GRU, config: AnalogRNNConfig = AnalogRNNConfig()) -> AnalogGRU:
        """Return an AnalogGRU with the weights of a trained torch.nn.GRU."""
        out = cls(gru.input_size, gru.hidden_size, config, batch_first=gru.batch_first)
        out.load_torch(gru)
        return out

    def step(self, x_t: torch.Tensor, h: torch.Tensor, linear_before_reset: bool = True) -> torch.Tensor:
        """Return h after one time step (torch's GRU: the reset gate multiplies W_hn h + b_hn)."""
        xi = self.mvm_ih(x_t, self.weight_ih_l0, self.bias_ih_l0)
        hh = self.mvm_hh(h, self.weight_hh_l0, self.bias_hh_l0)
        xr, xz, xn = xi.chunk(3, dim=-1)
        hr, hz, hn = hh.chunk(3, dim=-1)
        r = self.act["r"](xr + hr)
        z = self.act["z"](xz + hz)
        if linear_before_reset:
            n = self.act["n"](xn + r * hn)
        else:
            w_hn = self.weight_hh_l0[2 * self.hidden_size :]
            b_hn = self.bias_hh_l0[2 * self.hidden_size :]
            n = self.act["n"](xn + self.mvm_hh(r * h, w_hn, b_hn))
        return (1 - z) * n + z * h

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (outputs, h_n) like torch.nn.GRU (h_n shaped [1, B, H])."""
        seq = self._sequence(x)
        h = seq.new_zeros(seq.shape[1], self.hidden_size) if h0 is None else h0[0]
        ys = []
        for t in range(seq.shape[0]):
            h = self.step(seq[t], h)
            ys.append(h)
        return self._output(ys), h.unsqueeze(0)
