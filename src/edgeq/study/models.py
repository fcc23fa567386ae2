"""The study's models and data: the shipped digits CNN (torch twin), a character-level transformer trained on
text that ships with Python, and a digits MLP with an injected outlier channel."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F

from ..examples import example_path
from ..examples.make_examples import DigitsCNN, DigitsMLP, split_digits
from ..graph.load import load_model

__all__ = ["CharData", "CharTransformer", "DigitsCNN", "DigitsMLP", "bits_per_char", "char_data",
           "digits_cnn_from_onnx",
           "inject_outlier", "split_digits"]


def digits_cnn_from_onnx() -> DigitsCNN:
    """Return the torch twin of examples/digits_cnn.onnx with the shipped weights (same names, BN unfolded)."""
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
               for t in load_model(example_path("digits_cnn.onnx")).graph.initializer}
    rename = {"bn1.scale": "bn1.weight", "bn1.mean": "bn1.running_mean", "bn1.var": "bn1.running_var"}
    model = DigitsCNN()
    state = {rename.get(k, k): v for k, v in weights.items()}
    state["bn1.num_batches_tracked"] = torch.tensor(0)
    model.load_state_dict(state)
    return model.eval()


def inject_outlier(model: DigitsMLP, channel: int, k: float) -> DigitsMLP:
    """Return a copy whose fc1 output `channel` is k times larger and whose fc2 reads it k times weaker.

    ReLU commutes with a positive scale, so the FP32 function is unchanged while fc2's input gets an outlier
    channel k times the others (what LLM activations show, here with a dial).
    """
    out = DigitsMLP()
    out.load_state_dict(model.state_dict())
    with torch.no_grad():
        out.fc1.weight[channel] *= k
        out.fc1.bias[channel] *= k
        out.fc2.weight[:, channel] /= k
    return out.eval()


@dataclass(frozen=True)
class CharData:
    """Character-level text split into train and held-out windows (int64 [N, T+1])."""

    vocab: str
    train: torch.Tensor
    valid: torch.Tensor


def char_data(context: int, n_train: int, n_valid: int, seed: int) -> CharData:
    """Return windows of Python's own documentation text (pydoc_data.topics, shipped with every CPython)."""
    from pydoc_data.topics import topics

    text = "".join(topics[key] for key in sorted(topics))
    text = "".join(ch if 32 <= ord(ch) < 127 or ch == "\n" else " " for ch in text)
    vocab = "".join(sorted(set(text)))
    codes = np.frombuffer(text.encode("ascii"), np.uint8)
    ids = torch.from_numpy(np.searchsorted(np.frombuffer(vocab.encode("ascii"), np.uint8), codes).astype(np.int64))
    split = int(0.9 * len(ids))
    rng = np.random.default_rng(seed)
    starts_train = rng.integers(0, split - context - 1, n_train)
    starts_valid = rng.integers(split, len(ids) - context - 1, n_valid)
    window = torch.arange(context + 1)
    return CharData(vocab, ids[torch.from_numpy(starts_train)[:, None] + window],
                    ids[torch.from_numpy(starts_valid)[:, None] + window])


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class CharTransformer(nn.Module):
    """A small GPT-style character model: token + position embeddings, pre-LN blocks, linear head."""

    def __init__(self, vocab: int, context: int, dim: int = 64, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(context, dim))
        self.blocks = nn.ModuleList(_Block(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def bits_per_char(model: nn.Module, windows: torch.Tensor, batch: int = 256) -> float:
    """Return the mean next-character cross-entropy in bits on [N, T+1] windows."""
    total, count = 0.0, 0
    with torch.no_grad():
        for chunk in windows.split(batch):
            logits = model(chunk[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1), reduction="sum")
            total, count = total + float(loss), count + chunk[:, 1:].numel()
    return total / count / math.log(2)
