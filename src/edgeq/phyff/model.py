"""Networks built from physical blocks: h_{k+1} = ReLU(Linear_k([phys_k(h_k / |h_k|), h_k])).

Only the Linear layers are torch parameters. The physical layer is called on a detached input under no_grad
(`PhysicalLayer.forward`), so no gradient can reach it; the backprop baselines use its differentiable `twin`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..errors import UserError
from .goodness import GOODNESS, goodness
from .physical import PhysicalLayer

EMBEDDINGS = ("auto", "overlay", "append")
BP_MODES = ("hardware", "twin", "pat")


@dataclass(frozen=True)
class NetConfig:
    """Architecture and objective of a physical network.

    hidden: width of every digital Linear layer. goodness: "cosine" (PhyLL), "sumsq" or "meansq" (Hinton).
    threshold: goodness threshold for sumsq/meansq. theta: sharpness of the pairwise cosine loss.
    embedding: "overlay" writes the one-hot label over the first C input features at the input's max (Hinton,
    PhyLL), "append" concatenates it (for inputs with few features), "auto" overlays when there are at least
    4 features per class and appends otherwise. skip: feed h_k to Linear_k beside the physical
    output. normalize: length-normalise h_k on the skip path too, so a layer's goodness cannot leak to the next.
    normalize_input: length-normalise the network input as well; None = only when the input has many features
    (overlay embedding): for a handful of features (vowel formants) the input's length is information.
    """

    hidden: int = 256
    goodness: str = "cosine"
    threshold: float = 2.0
    theta: float = 4.0
    embedding: str = "auto"
    skip: bool = True
    normalize: bool = True
    normalize_input: bool | None = None

    def __post_init__(self) -> None:
        if self.goodness not in GOODNESS:
            raise UserError(f"unknown goodness {self.goodness!r}; choose one of {', '.join(GOODNESS)}")
        if self.embedding not in EMBEDDINGS:
            raise UserError(f"unknown label embedding {self.embedding!r}; choose one of {', '.join(EMBEDDINGS)}")
        if self.hidden <= 0:
            raise UserError(f"hidden width must be positive, got {self.hidden}")


def embed_labels(x: torch.Tensor, labels: torch.Tensor | None, n_classes: int, embedding: str) -> torch.Tensor:
    """Return x [N, F] with one-hot labels [N] overlaid on / appended after the features, at each row's max value.

    labels=None writes an all-zero label slot: the backprop baselines see the same input layout without a label.
    """
    peak = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-6)
    if labels is None:
        onehot = torch.zeros(x.shape[0], n_classes, dtype=x.dtype)
    else:
        onehot = torch.nn.functional.one_hot(labels, n_classes).to(x.dtype) * peak
    if embedding == "append":
        return torch.cat([x, onehot], dim=1)
    return torch.cat([onehot, x[:, n_classes:]], dim=1)


def resolve_embedding(embedding: str, n_features: int, n_classes: int) -> str:
    """Return "overlay" or "append" for a configured embedding ("auto" picks by features per class)."""
    if embedding == "auto":
        return "overlay" if n_features >= 4 * n_classes else "append"
    if embedding == "overlay" and n_features <= n_classes:
        raise UserError(
            f"overlay embedding needs more input features ({n_features}) than classes ({n_classes}); "
            "use embedding='append'"
        )
    return embedding


def input_width(n_features: int, n_classes: int, embedding: str) -> int:
    """Return the width of an embedded input."""
    return n_features + (n_classes if embedding == "append" else 0)


def seeded_linear(n_in: int, n_out: int, gen: torch.Generator) -> nn.Linear:
    """Return an nn.Linear with torch's default uniform init drawn from `gen` (no global RNG)."""
    layer = nn.Linear(n_in, n_out)
    bound = 1.0 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.copy_((torch.rand(layer.weight.shape, generator=gen) * 2 - 1) * bound)
        layer.bias.copy_((torch.rand(layer.bias.shape, generator=gen) * 2 - 1) * bound)
    return layer


class PhysicalBlock(nn.Module):
    """One block: a frozen physical layer followed by a trainable digital Linear + ReLU."""

    def __init__(self, phys: PhysicalLayer, in_dim: int, hidden: int, skip: bool, normalize: bool,
                 gen: torch.Generator, unit_input: bool = True) -> None:
        super().__init__()
        if phys.in_features != in_dim:
            raise UserError(f"physical layer takes {phys.in_features} inputs but the block gets {in_dim}")
        self.phys = phys
        self.skip = skip
        self.normalize = normalize
        self.unit_input = unit_input
        self.in_dim = in_dim
        self.linear = seeded_linear(phys.out_features + (in_dim if skip else 0), hidden, gen)

    def _unit(self, h: torch.Tensor) -> torch.Tensor:
        if not self.unit_input:
            return h
        return h / (h.norm(dim=1, keepdim=True) + 1e-8)

    def hardware_features(self, h: torch.Tensor) -> torch.Tensor:
        """Return the physical layer's response to h / |h| (one physical pass per row, no gradient)."""
        return self.phys.forward(self._unit(h.detach()))

    def twin_features(self, h: torch.Tensor, noise: torch.Generator | None,
                      twin: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """Return the differentiable twin's response to h / |h| (digital simulation of the hardware): the layer's
        time-0 twin, or `twin` (e.g. one recalibrated to the drifted chip) when given."""
        return self.phys.twin(self._unit(h), noise) if twin is None else twin(self._unit(h))

    def digital(self, p: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Return ReLU(Linear([p, skip(h)])) given the physical features p."""
        if self.skip:
            s = self._unit(h) * math.sqrt(self.in_dim) if self.normalize and self.unit_input else h
            p = torch.cat([p, s], dim=1)
        return torch.relu(self.linear(p))

    def macs_per_sample(self) -> int:
        """Return the multiply-accumulates of the digital Linear for one sample."""
        return self.linear.in_features * self.linear.out_features


def build_blocks(physical: list[PhysicalLayer], in_dim: int, cfg: NetConfig, gen: torch.Generator,
                 embedding: str) -> nn.ModuleList:
    """Return the chain of blocks over the given physical layers (layer k must take block k's input width)."""
    unit_input = cfg.normalize_input if cfg.normalize_input is not None else embedding == "overlay"
    blocks = []
    dim = in_dim
    for k, phys in enumerate(physical):
        blocks.append(PhysicalBlock(phys, dim, cfg.hidden, cfg.skip, cfg.normalize, gen, unit_input or k > 0))
        dim = cfg.hidden
    return nn.ModuleList(blocks)


class FFNet(nn.Module):
    """A forward-forward network: label embedding, physical blocks, one goodness per block."""

    def __init__(self, physical: list[PhysicalLayer], n_features: int, n_classes: int, cfg: NetConfig,
                 seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.cfg = cfg
        self.n_classes = n_classes
        self.n_features = n_features
        self.embedding = resolve_embedding(cfg.embedding, n_features, n_classes)
        self.blocks = build_blocks(physical, input_width(n_features, n_classes, self.embedding), cfg, gen,
                                   self.embedding)
        protos = torch.rand(len(physical), cfg.hidden, generator=gen)
        self.register_buffer("prototypes", protos / protos.norm(dim=1, keepdim=True))

    def embed(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Return x with the one-hot labels embedded (see `embed_labels`)."""
        return embed_labels(x, labels, self.n_classes, self.embedding)

    def layer_goodness(self, a: torch.Tensor, k: int) -> torch.Tensor:
        """Return the goodness of block k's activations a."""
        return goodness(a, self.cfg.goodness, self.prototypes[k])

    @torch.no_grad()
    def scores(self, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Return [N, C] goodness summed over blocks for every candidate label, all labels in one batch."""
        n, c = x.shape[0], self.n_classes
        per_chunk = max(1, chunk // c)
        out = []
        for start in range(0, n, per_chunk):
            xs = x[start:start + per_chunk]
            m = xs.shape[0]
            labels = torch.arange(c).repeat_interleave(m)
            h = self.embed(xs.repeat(c, 1), labels)
            total = torch.zeros(c * m)
            for k, block in enumerate(self.blocks):
                h = block.digital(block.hardware_features(h), h)
                total += self.layer_goodness(h, k)
            out.append(total.view(c, m).T)
        return torch.cat(out)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Return the label with the highest summed goodness for each row of x."""
        return self.scores(x).argmax(dim=1)


class BPNet(nn.Module):
    """The same blocks with a linear read-out, trained end to end by backprop through the physical twin.

    Its input has the FF layout with an empty label slot, so both run on the very same physical layers.
    """

    def __init__(self, physical: list[PhysicalLayer], n_features: int, n_classes: int, cfg: NetConfig,
                 seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.n_classes = n_classes
        self.embedding = resolve_embedding(cfg.embedding, n_features, n_classes)
        self.blocks = build_blocks(physical, input_width(n_features, n_classes, self.embedding), cfg, gen,
                                   self.embedding)
        self.head = seeded_linear(cfg.hidden, n_classes, gen)

    def forward(self, x: torch.Tensor, mode: str = "hardware", noise: torch.Generator | None = None,
                twins: list | None = None) -> torch.Tensor:
        """Return logits with physical features from the hardware ("hardware"), the twin ("twin", noisy if noise),
        or both ("pat", physics-aware training after Wright et al. 2022: the values of the hardware, the gradient
        of the twin). twins: one differentiable function per block replacing the layers' time-0 twins."""
        if mode not in BP_MODES:
            raise UserError(f"unknown BPNet mode {mode!r}; choose one of {', '.join(BP_MODES)}")
        h = embed_labels(x, None, self.n_classes, self.embedding)
        for k, block in enumerate(self.blocks):
            if mode == "hardware":
                p = block.hardware_features(h)
            else:
                p = block.twin_features(h, noise, None if twins is None else twins[k])
                if mode == "pat":
                    p = p + (block.hardware_features(h) - p).detach()
            h = block.digital(p, h)
        return self.head(h)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Return the arg-max label on the hardware."""
        return torch.cat([self.forward(x[i:i + chunk]).argmax(1) for i in range(0, x.shape[0], chunk)])
