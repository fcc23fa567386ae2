"""Mixed precision: raise the precision of the most sensitive layers, greedily, until the target holds.

Sensitivity is measured, not guessed: the logit SQNR of the model with only that layer quantized. Layers are
promoted most sensitive first, one step per round (every layer that needs it goes int4 -> int8 before any goes to
float), and the whole model is re-measured in edgeq's reference simulation after each promotion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import QuantConfig
from ..formats import BlockFormat, IntFormat, get_format
from ..metrics import sqnr_db, top1_accuracy
from .planner import build_plan
from .reference import plan_inputs, run_all
from .sensitivity import layer_sensitivity

FLOAT = "float"


@dataclass
class MixedPrecision:
    """The outcome of the search: per-node weight formats kept above the default, and why."""

    target: str
    overrides: dict[str, str]
    sensitivity_db: dict[str, float]
    achieved: dict[str, float]
    met: bool
    reason: str
    steps: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {
            "target": self.target, "overrides": self.overrides, "sensitivity_db": self.sensitivity_db,
            "achieved": self.achieved, "met": self.met, "reason": self.reason, "steps": self.steps,
        }


def promote(fmt_name: str) -> str:
    """Return the next higher precision for a weight format: sub-8-bit -> 8-bit of the same kind -> float."""
    fmt = get_format(fmt_name)
    element = fmt.element if isinstance(fmt, BlockFormat) else fmt
    if element.bits < 8 or isinstance(fmt, BlockFormat):
        return "int8" if isinstance(element, IntFormat) else "fp8_e4m3"
    return FLOAT


def choose_overrides(sim, points, ranges, weights, config: QuantConfig, data, labels, batch, progress) -> MixedPrecision:
    """Return the promotions (node -> weight format) meeting config.max_drop / config.min_sqnr, found greedily.

    Each candidate is planned by `planner.build_plan` from the calibrated ranges and float weights; the result
    lists only nodes changed from config.overrides.
    """
    fp32 = run_all(sim, data, batch)
    plan_for = lambda overrides: build_plan(points, ranges, weights, config, overrides)  # noqa: E731
    acc_fp32 = top1_accuracy(fp32, labels) if labels is not None else None

    def score(overrides):
        transforms, params = plan_inputs(sim, plan_for(overrides))
        out = run_all(sim, data, batch, transforms, params)
        achieved = {"sqnr_db": sqnr_db(fp32, out)}
        if acc_fp32 is not None:
            achieved["accuracy_drop_pp"] = 100.0 * (acc_fp32 - top1_accuracy(out, labels))
        return achieved

    def meets(a):
        ok = True
        if config.max_drop is not None:
            ok &= a["accuracy_drop_pp"] <= config.max_drop
        if config.min_sqnr is not None:
            ok &= a["sqnr_db"] >= config.min_sqnr
        return ok

    target = " and ".join(
        t for t in (
            None if config.max_drop is None else f"accuracy drop <= {config.max_drop:g} pp",
            None if config.min_sqnr is None else f"SQNR >= {config.min_sqnr:g} dB",
        ) if t
    )
    overrides = dict(config.overrides)
    weighted = [n for n in points.nodes if n.weight]
    sensitivity = layer_sensitivity(sim, plan_for(overrides), weighted, data, batch, fp32, progress)
    order = sorted(weighted, key=lambda n: (sensitivity[n.name], n.name))
    achieved = score(overrides)
    steps = [{"overrides": dict(overrides), **achieved}]
    # one precision step per layer per round, most sensitive first: int4 -> int8 for all that need it before
    # any layer goes to float
    while not meets(achieved):
        movable = [n for n in order if overrides.get(n.name, config.weights) != FLOAT]
        if not movable:
            break
        for node in movable:
            overrides[node.name] = promote(overrides.get(node.name, config.weights))
            achieved = score(overrides)
            steps.append({"node": node.name, "to": overrides[node.name], **achieved})
            if meets(achieved):
                break
    met = meets(achieved)
    reason = (
        "promoted most sensitive first (sensitivity = logit SQNR with only that layer quantized)"
        if met else "target not reachable even with every weight in float: activations limit it"
    )
    extra = {k: v for k, v in overrides.items() if config.overrides.get(k) != v}
    return MixedPrecision(target, extra, sensitivity, achieved, met, reason, steps)
