"""Quantities with units (values never travel without one), unit conversion, and the suffix -> dimension rules."""

from __future__ import annotations

from dataclasses import dataclass

# unit name -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "J": ("energy", 1.0), "mJ": ("energy", 1e-3), "uJ": ("energy", 1e-6), "nJ": ("energy", 1e-9),
    "pJ": ("energy", 1e-12), "fJ": ("energy", 1e-15), "aJ": ("energy", 1e-18),
    "m2": ("area", 1.0), "mm2": ("area", 1e-6), "um2": ("area", 1e-12),
    "F2": ("feature_area", 1.0),
    "s": ("time", 1.0), "ms": ("time", 1e-3), "us": ("time", 1e-6), "ns": ("time", 1e-9), "ps": ("time", 1e-12),
    "Hz": ("frequency", 1.0), "MHz": ("frequency", 1e6), "GHz": ("frequency", 1e9),
    "S": ("conductance", 1.0), "mS": ("conductance", 1e-3), "uS": ("conductance", 1e-6), "nS": ("conductance", 1e-9),
    "V": ("voltage", 1.0), "mV": ("voltage", 1e-3),
    "W": ("power", 1.0), "mW": ("power", 1e-3), "uW": ("power", 1e-6),
    "gate": ("gates", 1.0),
    "bit": ("bits", 1.0),
    "TOPS/W": ("efficiency", 1.0), "GOPS/W": ("efficiency", 1e-3),
    "fJ/step": ("fom", 1e-15), "pJ/step": ("fom", 1e-12),
    "1": ("ratio", 1.0),
}

# key suffix -> the dimension its unit must have ("units checked by names")
SUFFIX_DIMENSION: dict[str, str] = {
    "_energy": "energy",
    "_area": "area",
    "_gates": "gates",
    "_ratio": "ratio",
    "_conductance": "conductance",
    "_voltage": "voltage",
    "_time": "time",
    "_bits": "bits",
    "_efficiency": "efficiency",
    "_fom": "fom",
    "_power": "power",
    "_frequency": "frequency",
}


def dimension_of_key(key: str) -> str | None:
    """Return the dimension a table key's suffix promises, or None if the key has no known suffix."""
    for suffix, dim in SUFFIX_DIMENSION.items():
        if key.endswith(suffix):
            return dim
    return None


def dimension_of_unit(unit: str) -> str:
    """Return the dimension of a unit name; ValueError for an unknown unit."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; known: {', '.join(UNITS)}")
    return UNITS[unit][0]


@dataclass(frozen=True)
class Quantity:
    """A number with its unit, e.g. Quantity(0.2, "pJ")."""

    value: float
    unit: str

    def __post_init__(self) -> None:
        dimension_of_unit(self.unit)

    @property
    def dimension(self) -> str:
        return UNITS[self.unit][0]

    def to(self, unit: str) -> float:
        """Return the value expressed in `unit` (same dimension), as a plain float."""
        dim, factor = UNITS[unit] if unit in UNITS else (dimension_of_unit(unit), 1.0)
        if dim != self.dimension:
            raise ValueError(f"cannot convert {self.unit} ({self.dimension}) to {unit} ({dim})")
        return self.value * UNITS[self.unit][1] / factor

    def __str__(self) -> str:
        return f"{self.value:.4g} {self.unit}"
