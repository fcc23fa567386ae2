"""Goodness functions and the local losses that push goodness up for positive and down for negative samples."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import UserError

GOODNESS = ("cosine", "sumsq", "meansq")


def goodness(a: torch.Tensor, kind: str, prototype: torch.Tensor | None = None) -> torch.Tensor:
    """Return one goodness value per row of the activations a [N, H].

    `sumsq`/`meansq`: sum or mean of squared activities (Hinton 2022). `cosine`: cosine similarity between |a| and
    a fixed random unit prototype (the PhyLL code of Momeni et al.), bounded in [-1, 1] so its scale is free.
    """
    if kind == "sumsq":
        return (a * a).sum(dim=1)
    if kind == "meansq":
        return (a * a).mean(dim=1)
    if kind == "cosine":
        if prototype is None:
            raise UserError("cosine goodness needs a prototype vector")
        return F.cosine_similarity(a.abs(), prototype.unsqueeze(0), dim=1, eps=1e-8)
    raise UserError(f"unknown goodness {kind!r}; choose one of {', '.join(GOODNESS)}")


def local_loss(g_pos: torch.Tensor, g_neg: torch.Tensor, kind: str, threshold: float, theta: float) -> torch.Tensor:
    """Return the mean local loss of one layer for paired positive and negative goodness values.

    Threshold goodness (sumsq/meansq): softplus(threshold - g+) + softplus(g- - threshold) (Hinton).
    Cosine goodness: the pairwise log(1 + exp(-theta (g+ - g-))) of the PhyLL code, theta = 4 there.
    """
    if kind == "cosine":
        return F.softplus(-theta * (g_pos - g_neg)).mean()
    return (F.softplus(threshold - g_pos) + F.softplus(g_neg - threshold)).mean()
