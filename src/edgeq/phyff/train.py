"""Training loops: model-free forward-forward on the hardware, and backprop through the hardware's twin.

FF: per batch, positives (true label embedded) and negatives (a wrong label) go through block k's physical layer
once; the physical features are then reused for `inner_steps` updates of Linear_k alone (each block has its own
optimiser), and block k's activations, detached, feed block k+1. No gradient crosses a block or a physical layer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserError
from .goodness import local_loss
from .model import BPNet, FFNet

NEGATIVES = ("random", "hardest")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by FF and the backprop baselines.

    inner_steps: FF updates per batch reusing the same physical features (the PhyLL recipe; costs no extra
    physical pass). negatives: "random" wrong label, or "hardest" (the wrong label the network currently scores
    highest; costs C extra forward passes per sample).
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    inner_steps: int = 3
    negatives: str = "random"

    def __post_init__(self) -> None:
        if self.negatives not in NEGATIVES:
            raise UserError(f"unknown negatives {self.negatives!r}; choose one of {', '.join(NEGATIVES)}")
        if self.epochs < 0 or self.batch_size <= 0 or self.inner_steps <= 0 or not self.lr > 0:
            raise UserError("epochs >= 0, batch_size > 0, inner_steps > 0 and lr > 0 are required")


@dataclass
class Cost:
    """What training spent: samples through physical layers, digital MACs and wall time (s)."""

    physical_passes: int = 0
    digital_macs: int = 0
    wall_s: float = 0.0
    steps: int = 0

    def as_dict(self) -> dict:
        """Return the deterministic counters (not the wall time) as a JSON-ready dict."""
        return {"physical_passes": self.physical_passes, "digital_macs": self.digital_macs, "steps": self.steps}


def _physical_passes(blocks) -> int:
    return sum(b.phys.passes for b in blocks)


class FFTrainer:
    """Forward-forward training of an FFNet; only the digital Linear layers change."""

    def __init__(self, net: FFNet, cfg: TrainConfig, seed: int) -> None:
        self.net = net
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.optims = [torch.optim.Adam(b.linear.parameters(), lr=cfg.lr, fused=True) for b in net.blocks]
        self.cost = Cost()

    def _negatives(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c = self.net.n_classes
        if self.cfg.negatives == "hardest":
            scores = self.net.scores(x)
            self.cost.digital_macs += c * x.shape[0] * sum(b.macs_per_sample() for b in self.net.blocks)
            scores[torch.arange(len(y)), y] = -torch.inf
            return scores.argmax(dim=1)
        shift = torch.from_numpy(self.rng.integers(1, c, size=len(y)))
        return (y + shift) % c

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Train every block on one batch and return the summed final local loss."""
        passes0 = _physical_passes(self.net.blocks)
        t0 = time.perf_counter()
        net, cfg = self.net, self.cfg
        n = x.shape[0]
        h = torch.cat([net.embed(x, y), net.embed(x, self._negatives(x, y))])
        total = 0.0
        for k, (block, opt) in enumerate(zip(net.blocks, self.optims)):
            p = block.hardware_features(h)
            for _ in range(cfg.inner_steps):
                a = block.digital(p, h)
                g = net.layer_goodness(a, k)
                loss = local_loss(g[:n], g[n:], net.cfg.goodness, net.cfg.threshold, net.cfg.theta)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            # forward + weight gradient (no input gradient: nothing upstream learns from this loss)
            self.cost.digital_macs += 2 * cfg.inner_steps * 2 * n * block.macs_per_sample()
            total += float(loss.detach())
            h = a.detach()
        self.cost.physical_passes += _physical_passes(net.blocks) - passes0
        self.cost.wall_s += time.perf_counter() - t0
        self.cost.steps += 1
        return total

    def epoch(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Run one shuffled epoch and return the mean batch loss."""
        order = torch.from_numpy(self.rng.permutation(x.shape[0]))
        losses = [self.step(x[idx], y[idx]) for idx in order.split(self.cfg.batch_size)]
        return float(np.mean(losses))


class BPTrainer:
    """Backprop of a BPNet through the physical twin: ideal ("in silico") or noisy (hardware-aware).

    mode "twin" trains wholly in silico; "pat" runs the forward pass on the hardware and the backward pass through
    the twin (physics-aware training), costing one physical pass per sample per layer. `twins` (settable, one
    function per block) replaces the layers' time-0 twins, e.g. by ones recalibrated to the drifted chip.
    """

    def __init__(self, net: BPNet, cfg: TrainConfig, seed: int, noisy: bool, mode: str = "twin") -> None:
        if mode not in ("twin", "pat"):
            raise UserError(f"BPTrainer mode must be 'twin' or 'pat', got {mode!r}")
        self.net = net
        self.cfg = cfg
        self.mode = mode
        self.twins: list | None = None
        self.rng = np.random.default_rng(seed)
        self.noise = torch.Generator().manual_seed(seed + 7) if noisy else None
        self.opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, fused=True)
        self.cost = Cost()
        twin_macs = sum(getattr(b.phys, "twin_macs_per_sample", 0) for b in net.blocks)
        digital = sum(b.macs_per_sample() for b in net.blocks) + net.head.in_features * net.head.out_features
        # Linear layers: forward + weight grad + input grad; the twin: forward + input grad (all digital).
        self._macs_per_sample = 3 * digital + 2 * twin_macs

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Take one backprop step on a batch and return its cross-entropy."""
        t0 = time.perf_counter()
        passes0 = _physical_passes(self.net.blocks)
        logits = self.net(x, mode=self.mode, noise=self.noise, twins=self.twins)
        loss = torch.nn.functional.cross_entropy(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.cost.digital_macs += x.shape[0] * self._macs_per_sample
        self.cost.physical_passes += _physical_passes(self.net.blocks) - passes0
        self.cost.wall_s += time.perf_counter() - t0
        self.cost.steps += 1
        return float(loss.detach())

    def epoch(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Run one shuffled epoch and return the mean batch loss."""
        order = torch.from_numpy(self.rng.permutation(x.shape[0]))
        losses = [self.step(x[idx], y[idx]) for idx in order.split(self.cfg.batch_size)]
        return float(np.mean(losses))


def accuracy(net: FFNet | BPNet, x: torch.Tensor, y: torch.Tensor) -> float:
    """Return top-1 accuracy of the network run on its hardware."""
    return float((net.predict(x) == y).double().mean())
