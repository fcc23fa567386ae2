"""Training helpers: a seeded fit loop with a progress bar (CLI, study) and a context manager for users' own loops."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import UserError
from .prepare import calibrate, prepare, quant_layers


@dataclass(frozen=True)
class FitConfig:
    """Optimiser settings of `fit`: AdamW with a cosine decay, fixed batch order from `seed`."""

    epochs: int = 3
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0
    seed: int = 0


def token_cross_entropy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return the mean cross-entropy for [N, C] logits and [N] labels, or [N, T, C] and [N, T] (sequence models)."""
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: FitConfig = FitConfig(),
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = token_cross_entropy,
    progress: bool = False,
    desc: str = "qat",
) -> list[float]:
    """Train `model` in place on (x, y) and return the mean loss of each epoch."""
    if config.epochs < 1:
        raise UserError(f"epochs must be at least 1, got {config.epochs}")
    if len(x) != len(y) or len(x) == 0:
        raise UserError(f"training inputs and labels must be non-empty and match in length ({len(x)} vs {len(y)})")
    generator = torch.Generator().manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(y) / config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=desc, unit="step", leave=False)
    history = []
    try:
        for _ in range(config.epochs):
            model.train()
            losses = []
            for idx in torch.randperm(len(y), generator=generator).split(config.batch_size):
                opt.zero_grad()
                loss = loss_fn(model(x[idx]), y[idx])
                if not torch.isfinite(loss):
                    raise UserError("the training loss became NaN/inf; lower --lr or check the data")
                loss.backward()
                opt.step()
                schedule.step()
                losses.append(float(loss.detach()))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
            history.append(float(np.mean(losses)))
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return history


@contextlib.contextmanager
def quantization_aware(module: nn.Module, calib, **prepare_kwargs) -> Iterator[nn.Module]:
    """Yield a calibrated quantization-aware copy of `module` for the caller's own training loop.

    On exit the model is put in eval mode and every scale is checked to be finite and positive, so a run that
    diverged fails loudly instead of exporting garbage. Example::

        with edgeq.qat.quantization_aware(model, calib=[x[:256]], weights="fp8_e4m3", acts="fp8_e4m3") as qmodel:
            for xb, yb in loader:
                ...  # the usual optimizer steps on qmodel.parameters()
    """
    model = prepare(module, **prepare_kwargs)
    calibrate(model, calib)
    model.train()
    yield model
    model.eval()
    for name, layer in quant_layers(model).items():
        for quantizer in (layer.weight_quant, layer.input_quant):
            scale = getattr(quantizer, "scale", None)
            if scale is not None and not bool(torch.all(torch.isfinite(scale) & (scale.abs() > 0))):
                raise UserError(f"layer {name}: a quantization scale became zero or non-finite during training")
