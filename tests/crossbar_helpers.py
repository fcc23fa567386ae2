"""Helpers for the crossbar tests: the shipped digits models as torch modules, and the digits data split."""

from __future__ import annotations

import numpy as np
import onnx
import torch
from edgeq.examples import example_path
from edgeq.examples.make_examples import DigitsCNN, DigitsMLP, split_digits
from onnx import numpy_helper

_ONNX_TO_TORCH = {"bn1.scale": "bn1.weight", "bn1.mean": "bn1.running_mean", "bn1.var": "bn1.running_var"}


def load_digits_model(kind: str) -> torch.nn.Module:
    """Return the shipped digits MLP or CNN as a torch module in eval mode, weights read from its ONNX file."""
    model = DigitsMLP() if kind == "mlp" else DigitsCNN()
    proto = onnx.load(str(example_path(f"digits_{kind}.onnx")))
    state = {
        _ONNX_TO_TORCH.get(i.name, i.name): torch.from_numpy(numpy_helper.to_array(i).copy())
        for i in proto.graph.initializer
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return model.eval()


def digits_split() -> dict[str, np.ndarray]:
    """Return the fixed train/eval split the shipped models were trained on."""
    return split_digits()


def accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Return top-1 accuracy of model on (x, y)."""
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())
