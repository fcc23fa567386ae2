"""Mixed precision: raise the precision of the most sensitive layers, greedily, until the target holds.

Sensitivity is measured, not guessed: the output SQNR of the model with only that layer quantized. Layers are
promoted most sensitive first, one rung per round (every layer that needs it goes int4 -> int8 before any goes to
float), and the whole model is re-measured after each promotion. Every candidate is one run of the same
switchable `ReferenceModel` (node selectors pick the ladder rung), so no graph is rebuilt per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..feeds import FeedSet
from ..metrics import StreamingComparison, top1_accuracy
from .config import QuantConfig
from .planner import FLOAT, exclusive_inputs
from .reference import ReferenceModel
from .sensitivity import op_alone


MIXED_SAMPLES = 8  # the search scores candidates on this many eval samples; the report measures all of them
RANKING_SAMPLES = 4  # ranking ops by their op-alone SQNR needs fewer


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


def choose_overrides(reference: ReferenceModel, points, config: QuantConfig, feeds: FeedSet, progress: bool,
                     select: dict[str, int], float_nodes: set[str]
                     ) -> tuple[MixedPrecision, dict[str, int], set[str]]:
    """Return (the promotions meeting config.max_drop / config.min_sqnr, node -> ladder rung of the final plan,
    nodes wholly in float: weights and the input activations only they read).

    Rung 0 is float weights; rung k >= 1 is the k-th format of the node's ladder (`planner.ladder`). After float
    weights, a node's last step is float inputs too: activations, not weights, are what limits FP8 and INT8 on
    real models (a stem over offset features: 11 dB with its input quantized, 21 dB without).
    """
    pairs = list(feeds.head(MIXED_SAMPLES).with_labels())
    fp32 = [reference.run(feed)[0][0] for feed, _ in pairs]
    labels = [lab for _, lab in pairs]
    use_labels = config.max_drop is not None and all(lab is not None for lab in labels)
    acc_fp32 = _accuracy(fp32, labels) if use_labels else None
    select = dict(select)
    float_nodes = set(float_nodes)

    def gates_for(float_nodes):
        off = exclusive_inputs(points, float_nodes)
        return {t: t not in off for t in reference.activations}

    def score(select, float_nodes):
        gates = gates_for(float_nodes)
        cmp, outs = StreamingComparison(), []
        for (feed, _), ref in zip(pairs, fp32):
            out = reference.run(feed, gates, select)[0][0]
            cmp.update(ref, out)
            outs.append(out)
        achieved = {"sqnr_db": cmp.sqnr_db}
        if acc_fp32 is not None:
            achieved["accuracy_drop_pp"] = 100.0 * (acc_fp32 - _accuracy(outs, labels))
        return achieved

    def meets(a):
        ok = True
        if config.max_drop is not None:
            ok &= a["accuracy_drop_pp"] <= config.max_drop
        if config.min_sqnr is not None:
            ok &= a["sqnr_db"] >= config.min_sqnr
        return ok

    target = " and ".join(t for t in (
        None if config.max_drop is None else f"accuracy drop <= {config.max_drop:g} pp",
        None if config.min_sqnr is None else f"SQNR >= {config.min_sqnr:g} dB",
    ) if t)
    weighted = [n for n in points.nodes if n.name in reference.variants and n.name not in float_nodes]
    ranking = feeds.head(RANKING_SAMPLES)
    sensitivity = op_alone(reference, weighted, ranking, progress, fp32[:sum(1 for _ in ranking)])
    order = sorted(weighted, key=lambda n: (sensitivity.get(n.name, np.inf), n.name))
    rank = {n.name: k for k, n in enumerate(order)}
    achieved = score(select, float_nodes)
    steps = [{"overrides": {}, **achieved}]
    # one step per layer per round, most sensitive first: int4 -> int8 for all that need it before any weight goes
    # float, and every weight float before any input activation does
    # A step promotes the next `chunk` layers (fewest promotions so far, most sensitive first) by one step each:
    # int4 -> int8, and from the top of the ladder to float with its inputs (8-bit weights alone going float buys
    # little; activations are what limit real models). The chunk doubles while the target is missed, and the step
    # that meets it is cut back to its shortest prefix that still does: O(log n) evaluations, not O(n).
    promotions = dict.fromkeys(select, 0)

    def promote(node) -> str:
        promotions[node.name] += 1
        if 0 < select[node.name] < len(reference.variants[node.name].formats):
            select[node.name] += 1
            return _rung_name(reference, node.name, select[node.name])
        select[node.name] = 0
        float_nodes.add(node.name)
        return "float (inputs too)"

    chunk = 1
    while not meets(achieved):
        movable = sorted((n for n in order if n.name not in float_nodes),
                         key=lambda n: (promotions[n.name], rank[n.name]))
        if not movable:
            break
        batch = movable[:chunk]
        before = (dict(select), set(float_nodes), dict(promotions))
        moved = {n.name: promote(n) for n in batch}
        achieved = score(select, float_nodes)
        lo, hi = 1, len(batch)
        while meets(achieved) and lo < hi:  # bisect for the shortest prefix of the batch that still meets
            mid = (lo + hi) // 2
            after = (dict(select), set(float_nodes), dict(promotions), achieved, moved)
            select, float_nodes, promotions = dict(before[0]), set(before[1]), dict(before[2])
            moved = {n.name: promote(n) for n in batch[:mid]}
            achieved = score(select, float_nodes)
            if meets(achieved):
                hi = mid
            else:
                lo = mid + 1
                select, float_nodes, promotions, achieved, moved = after
        steps.append({"promoted": moved, **achieved})
        chunk *= 2
    everything_float = bool(weighted) and all(n.name in float_nodes for n in weighted)
    met = meets(achieved) and not everything_float
    reason = ("promoted most sensitive first (sensitivity = output SQNR with only that layer quantized)" if met
              else "only reachable with nothing quantized" if everything_float
              else "target not reachable even with every compute op in float: the remaining quantized ops limit it")
    overrides = {n: _rung_name(reference, n, k) for n, k in select.items() if k != 1 and n not in float_nodes}
    overrides.update({n: "float (inputs too)" for n in float_nodes})
    mixed = MixedPrecision(target, overrides, sensitivity, achieved, met, reason, steps)
    return mixed, select, float_nodes


def _rung_name(reference: ReferenceModel, node: str, rung: int) -> str:
    return FLOAT if rung == 0 else reference.variants[node].formats[rung - 1]


def _accuracy(outputs: list[np.ndarray], labels: list[np.ndarray]) -> float:
    return top1_accuracy(np.concatenate(outputs), np.concatenate(labels))
