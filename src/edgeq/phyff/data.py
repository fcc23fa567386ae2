"""Offline data sets for physical training: scikit-learn digits, synthetic formant vowels, a scalable synthetic task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError

DATASETS = ("digits", "vowels", "synthetic")


@dataclass(frozen=True)
class Dataset:
    """Train/test tensors and the number of classes."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    @property
    def n_features(self) -> int:
        """Return the number of input features."""
        return int(self.x_train.shape[1])


def _digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.2, random_state=0, stratify=d.target)


def _vowels() -> tuple[np.ndarray, ...]:
    with np.load(Path(__file__).with_name("vowels.npz")) as f:
        return f["x_train"], f["x_test"], f["y_train"], f["y_test"]


def _synthetic(spec: str) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    parts = spec.split(":")[1:]
    try:
        n, d, c = (int(p) for p in parts) if parts else (4000, 64, 10)
    except ValueError:
        raise UserError(f"synthetic data spec {spec!r} must be synthetic or synthetic:N:FEATURES:CLASSES") from None
    if len(parts) not in (0, 3) or n < 4 * c or d < 4 or c < 2:
        raise UserError(f"synthetic data spec {spec!r}: need N >= 4*CLASSES, FEATURES >= 4, CLASSES >= 2")
    x, y = make_classification(n_samples=n, n_features=d, n_informative=max(2, d // 2), n_redundant=d // 4,
                               n_classes=c, n_clusters_per_class=2, class_sep=1.5, random_state=0)
    x = (x / np.abs(x).max()).astype(np.float32)
    return train_test_split(x, y.astype(np.int64), test_size=0.2, random_state=0, stratify=y)


def load_dataset(name: str) -> Dataset:
    """Return the named data set: "digits", "vowels", or "synthetic[:N:FEATURES:CLASSES]" (fixed split)."""
    base = name.split(":")[0]
    if base == "digits" and name == "digits":
        xtr, xte, ytr, yte = _digits()
    elif base == "vowels" and name == "vowels":
        xtr, xte, ytr, yte = _vowels()
    elif base == "synthetic":
        xtr, xte, ytr, yte = _synthetic(name)
    else:
        raise UserError(f"unknown data set {name!r}; choose digits, vowels or synthetic[:N:FEATURES:CLASSES]")
    n_classes = int(max(ytr.max(), yte.max()) + 1)
    return Dataset(base, torch.from_numpy(np.ascontiguousarray(xtr)), torch.from_numpy(np.ascontiguousarray(ytr)),
                   torch.from_numpy(np.ascontiguousarray(xte)), torch.from_numpy(np.ascontiguousarray(yte)),
                   n_classes)
