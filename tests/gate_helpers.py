"""Helpers for the gate tests: write small gate configs over the shipped examples and degraded copies of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import yaml
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def copy_examples(folder: Path, *names: str) -> None:
    """Copy shipped example files into folder (tests never modify the originals)."""
    for name in names:
        shutil.copy(EXAMPLES / name, folder / name)


def write_config(folder: Path, cases: list[dict], **top) -> Path:
    """Write gate.yaml with the given cases (baseline gate.baseline.json beside it) and return its path."""
    body = {"version": 2, "baseline": "gate.baseline.json", **top, "cases": cases}
    path = folder / "gate.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def perturb_initializer(model_path: Path, name: str, sigma: float, seed: int = 0) -> None:
    """Add Gaussian noise of sigma * max|w| to one initializer of the ONNX model, in place (a degraded model)."""
    model = onnx.load(model_path)
    for tensor in model.graph.initializer:
        if tensor.name == name:
            w = numpy_helper.to_array(tensor)
            noise = np.random.default_rng(seed).standard_normal(w.shape) * sigma * np.abs(w).max()
            tensor.CopyFrom(numpy_helper.from_array((w + noise).astype(w.dtype), name))
            break
    else:
        raise KeyError(name)
    onnx.save(model, model_path)


def noisy_metric(model=None, calib=None, eval=None, seed: int = 0, mean: float = 90.0, sigma: float = 1.0,
                 samples: int = 4, drop: str | None = None) -> dict:
    """A `python` runner target: `samples` seeded draws of N(mean, sigma) as 'score', plus a fixed 'size_bytes'."""
    rng = np.random.default_rng(seed)
    out = {"score": list(rng.normal(mean, sigma, size=samples)), "size_bytes": 1234}
    if drop:
        out.pop(drop)
    return out
