"""Technology scaling of energy and area between CMOS nodes (Stillmaker & Baas 2017 anchors, power law between them).

Stillmaker & Baas fit per-node polynomials; edgeq ships their 45 nm -> 7 nm factors (energy x0.094, area x0.059) and
interpolates other nodes with a power law in the feature size through those anchors: factor(n) = (n / 45)^alpha.
Nodes at an anchor get its factor exactly; every other node is marked "interpolated" (7-45 nm) or "extrapolated"
(45-180 nm) in the result, so the output always says how a number was moved.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .loader import entry

REFERENCE_NM = 45.0
ANCHOR_NM = 7.0
MIN_NM, MAX_NM = 7.0, 180.0
DEFAULT_TECH = "7nm"
"""The one default technology node of every edgeq cost (quantize reports, `edgeq cost`, `edgeq simulate`)."""


def parse_node(tech: str | float) -> float:
    """Return a technology node in nm from '7nm', '7 nm', '7' or 7; ValueError if out of the 7-180 nm range."""
    if isinstance(tech, (int, float)) and not isinstance(tech, bool):
        nm = float(tech)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(nm)?\s*", str(tech).lower())
        if not match:
            raise ValueError(f"technology node {tech!r} not understood; write it like '7nm' or '45nm'")
        nm = float(match.group(1))
    if not MIN_NM <= nm <= MAX_NM:
        raise ValueError(f"technology node {nm:g} nm is outside the 7-180 nm range the scaling data covers")
    return nm


def _exponent(quantity: str) -> float:
    """Return alpha in factor = (node/45)^alpha for 'energy' or 'area', fitted through the two cited anchors."""
    at_anchor = entry("scaling", f"s7_{quantity}_ratio").value / entry("scaling", f"s45_{quantity}_ratio").value
    return math.log(at_anchor) / math.log(ANCHOR_NM / REFERENCE_NM)


def _factor_from_45(nm: float, quantity: str) -> float:
    if nm == REFERENCE_NM:
        return entry("scaling", f"s45_{quantity}_ratio").value
    if nm == ANCHOR_NM:
        return entry("scaling", f"s7_{quantity}_ratio").value
    return (nm / REFERENCE_NM) ** _exponent(quantity)


@dataclass(frozen=True)
class Scaling:
    """How a number given at `from_nm` is moved to `to_nm`: multiply energy by `energy`, area by `area`."""

    from_nm: float
    to_nm: float
    energy: float
    area: float
    method: str

    def describe(self) -> str:
        """Return one line for output, e.g. '45nm -> 7nm: energy x0.094, area x0.059 (Stillmaker & Baas anchor)'."""
        return (f"{self.from_nm:g}nm -> {self.to_nm:g}nm: energy x{self.energy:.4g}, area x{self.area:.4g} "
                f"({self.method})")

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {"from_nm": self.from_nm, "to_nm": self.to_nm, "energy_factor": self.energy,
                "area_factor": self.area, "method": self.method}


def scaling(from_tech: str | float, to_tech: str | float) -> Scaling:
    """Return the energy and area factors that move a figure from one node to another."""
    a, b = parse_node(from_tech), parse_node(to_tech)
    if a == b:
        method = "same node, unscaled"
    elif {a, b} <= {REFERENCE_NM, ANCHOR_NM}:
        method = "Stillmaker & Baas 2017 anchor"
    elif max(a, b) > REFERENCE_NM:
        method = "power law through the Stillmaker & Baas 45/7 nm anchors, extrapolated above 45 nm"
    else:
        method = "power law interpolated between the Stillmaker & Baas 45/7 nm anchors"
    energy = 1.0 if a == b else _factor_from_45(b, "energy") / _factor_from_45(a, "energy")
    area = 1.0 if a == b else _factor_from_45(b, "area") / _factor_from_45(a, "area")
    return Scaling(a, b, energy, area, method)
