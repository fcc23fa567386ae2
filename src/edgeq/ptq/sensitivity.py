"""Per-layer sensitivity: the logit SQNR of the model with only one op quantized (who to blame)."""

from __future__ import annotations

import numpy as np

from ..metrics import sqnr_db
from ..progress import progress_bar
from .reference import plan_inputs, run_all


def layer_sensitivity(sim, plan, nodes, data, batch: int, fp32: np.ndarray, progress: bool = False) -> dict[str, float]:
    """Return node -> logit SQNR (dB) vs FP32 with only that node's input activations, weight and bias quantized."""
    by_tensor = {e.tensor: e for e in plan}
    out = {}
    for node in progress_bar(nodes, "sensitivity", progress, "layer"):
        own = [by_tensor[t] for t in (*node.acts, node.weight, node.bias) if t and t in by_tensor]
        if own:
            transforms, params = plan_inputs(sim, own)
            out[node.name] = sqnr_db(fp32, run_all(sim, data, batch, transforms, params))
    return out
