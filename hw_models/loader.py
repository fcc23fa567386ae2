"""Load the cited data tables under hw_models/data into frozen records, refusing any number without unit or source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from .units import Quantity, dimension_of_key, dimension_of_unit

DATA_DIR = Path(__file__).with_name("data")
KINDS = ("measured", "synthesised", "modelled", "assumed")
REQUIRED = ("key", "value", "unit", "node", "kind", "source", "where")


class TableError(ValueError):
    """A data table breaks the rules: a number without unit, node, kind or a known source."""


@dataclass(frozen=True)
class Source:
    """One entry of the sources registry."""

    key: str
    citation: str
    doi: str = ""


@dataclass(frozen=True)
class Entry:
    """One cited number: value and unit, the technology node it holds at, what kind of number it is, and where from."""

    key: str
    value: float
    unit: str
    node: str
    kind: str
    source: Source
    where: str
    note: str = ""

    @property
    def quantity(self) -> Quantity:
        return Quantity(self.value, self.unit)

    def cite(self) -> str:
        """Return 'citation, where' for output next to a number."""
        return f"{self.source.citation} [{self.where}]"


def parse_sources(raw: dict) -> dict[str, Source]:
    """Return the source registry from the parsed sources.yaml; TableError if malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), dict):
        raise TableError("sources.yaml needs a top-level 'sources' mapping")
    out = {}
    for key, body in raw["sources"].items():
        if not isinstance(body, dict) or not str(body.get("citation", "")).strip():
            raise TableError(f"source {key!r} has no citation")
        out[key] = Source(key=key, citation=str(body["citation"]), doi=str(body.get("doi", "") or ""))
    return out


def parse_table(raw: dict, sources: dict[str, Source], origin: str = "<table>") -> dict[str, Entry]:
    """Return key -> Entry for one parsed table, validating every row; TableError names the first bad row."""
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
        raise TableError(f"{origin}: needs a top-level 'entries' list")
    entries: dict[str, Entry] = {}
    for i, row in enumerate(raw["entries"]):
        where = f"{origin} row {i} ({row.get('key', '?') if isinstance(row, dict) else '?'})"
        if not isinstance(row, dict):
            raise TableError(f"{where}: a row must be a mapping")
        missing = [f for f in REQUIRED if row.get(f) in (None, "")]
        if missing:
            raise TableError(f"{where}: missing {', '.join(missing)}; every number needs all of {', '.join(REQUIRED)}")
        value = row["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TableError(f"{where}: value {value!r} is not a number")
        unit = str(row["unit"])
        try:
            unit_dim = dimension_of_unit(unit)
        except ValueError as err:
            raise TableError(f"{where}: {err}") from None
        key = str(row["key"])
        key_dim = dimension_of_key(key)
        if key_dim is None:
            raise TableError(f"{where}: key must end in a quantity suffix (_energy, _area, _gates, ...)")
        if key_dim != unit_dim and not (key_dim == "area" and unit_dim == "feature_area"):
            raise TableError(f"{where}: key says {key_dim} but unit {unit!r} is {unit_dim}")
        if row["kind"] not in KINDS:
            raise TableError(f"{where}: kind {row['kind']!r} is not one of {', '.join(KINDS)}")
        if row["source"] not in sources:
            raise TableError(f"{where}: source {row['source']!r} is not in the sources registry")
        node = str(row["node"])
        if node != "any" and not (node.endswith("nm") and node[:-2].replace(".", "", 1).isdigit()):
            raise TableError(f"{where}: node {node!r} must look like '45nm' or be 'any'")
        if key in entries:
            raise TableError(f"{where}: duplicate key")
        entries[key] = Entry(key, float(value), unit, node, str(row["kind"]), sources[row["source"]],
                             str(row["where"]), str(row.get("note", "")))
    return entries


@cache
def load_sources() -> dict[str, Source]:
    """Return the shipped source registry."""
    return parse_sources(yaml.safe_load((DATA_DIR / "sources.yaml").read_text()))


@cache
def load_table(name: str) -> dict[str, Entry]:
    """Return the shipped table `name` (digital, memory, analog, scaling, reference) as key -> Entry."""
    path = DATA_DIR / f"{name}.yaml"
    if not path.exists():
        raise TableError(f"no data table {name!r} in {DATA_DIR}")
    return parse_table(yaml.safe_load(path.read_text()), load_sources(), origin=path.name)


def table_names() -> list[str]:
    """Return the names of every shipped table (sources.yaml excluded)."""
    return sorted(p.stem for p in DATA_DIR.glob("*.yaml") if p.stem != "sources")


def entry(table: str, key: str) -> Entry:
    """Return one cited number by table and key."""
    rows = load_table(table)
    if key not in rows:
        raise KeyError(f"no {key!r} in table {table!r}")
    return rows[key]
