"""`cost`: the modelled hardware cost of one inference (edgeq.hw_models.network_cost). Deterministic, so every
metric must match the baseline exactly: a changed cost table, MAC count or preset shows up as a mismatch."""

from __future__ import annotations

from ...errors import UserError
from ..config import CaseSpec
from ._inputs import require

_OPTIONS = {"plan", "fmt", "target", "tech", "hw", "acc", "batch"}


def run_cost(case: CaseSpec, seed: int) -> dict[str, float]:
    """Return MACs, energy (pJ), area (um^2), latency (ns) and TOPS/W of the case's model under its plan."""
    from ...hw_models import network_cost

    unknown = sorted(set(case.options) - _OPTIONS)
    if unknown:
        raise UserError(f"case {case.name!r}: cost has no option(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(sorted(_OPTIONS))}")
    options = dict(case.options)
    plan = options.pop("plan", options.pop("fmt", "int8"))
    model = require(case.model, "model", case.name, "cost")
    cost = network_cost(str(model), plan, **options)
    return {"macs": float(cost.macs), "energy_pj": cost.energy_pj, "area_um2": float(cost.area_um2),
            "latency_ns": cost.latency_ns, "tops_per_w": cost.tops_per_w}
