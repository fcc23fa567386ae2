"""The two recurrent tasks of the ramp-ADC experiments: keyword spotting and a character language model.

Both load shipped .npz files (see make_kws_espeak.py and make_charlm_pydoc.py) and define small LSTM models whose
recurrent layer can be swapped for an `AnalogLSTM`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import example_path


@dataclass(frozen=True)
class KwsData:
    """MFCC-like features [N, 25 frames, 12] (standardised), labels and class names; train/test voices disjoint."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]


def load_kws() -> KwsData:
    """Return the shipped espeak-ng keyword-spotting set as float32 features."""
    with np.load(example_path("kws_espeak.npz")) as d:
        # int8 codes hold (x - mean) / scale with scale = 4 sigma / 127: dividing by 32 gives about unit variance
        return KwsData(
            d["x_train"].astype(np.float32) / 32.0,
            d["y_train"],
            d["x_test"].astype(np.float32) / 32.0,
            d["y_test"],
            tuple(d["classes"].tolist()),
        )


def load_charlm() -> dict[str, np.ndarray]:
    """Return {'train', 'valid', 'test'} uint8 character codes and 'vocab' of the shipped pydoc corpus."""
    with np.load(example_path("charlm_pydoc.npz")) as d:
        return {k: d[k] for k in ("train", "valid", "test", "vocab")}


class KwsLSTM(torch.nn.Module):
    """LSTM over frames, classifier on the last hidden state."""

    def __init__(self, n_features: int = 12, hidden: int = 64, n_classes: int = 12) -> None:
        super().__init__()
        self.rnn: torch.nn.Module = torch.nn.LSTM(n_features, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits [B, n_classes] for features [B, T, F]."""
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class CharLSTM(torch.nn.Module):
    """Embedding -> LSTM -> next-character logits."""

    def __init__(self, vocab: int, embed: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, embed)
        self.rnn: torch.nn.Module = torch.nn.LSTM(embed, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, codes: torch.Tensor, state: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        """Return (logits [B, T, vocab], state) for codes [B, T]."""
        out, state = self.rnn(self.embed(codes), state)
        return self.head(out), state
