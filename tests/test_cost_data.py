"""Every shipped number has a unit, node, kind and a registered source; the loader refuses rows that do not."""

import copy
from itertools import pairwise

import pytest
import yaml
from edgeq.hw_models import Quantity, entry, load_sources, load_table, scaling, table_names
from edgeq.hw_models.loader import DATA_DIR, KINDS, TableError, parse_table
from edgeq.hw_models.units import dimension_of_key, dimension_of_unit

GOOD = {"key": "x_energy", "value": 1.0, "unit": "pJ", "node": "45nm", "kind": "modelled",
        "source": "horowitz2014", "where": "somewhere"}


def test_tables_present():
    assert {"digital", "memory", "analog", "scaling", "reference"} <= set(table_names())


@pytest.mark.parametrize("name", ["digital", "memory", "analog", "scaling", "reference"])
def test_every_row_of_every_table_is_cited_and_unit_matches_name(name):
    raw = yaml.safe_load((DATA_DIR / f"{name}.yaml").read_text())
    rows = load_table(name)
    assert len(rows) == len(raw["entries"])  # nothing silently dropped
    sources = load_sources()
    for key, e in rows.items():
        assert e.source.key in sources and e.source.citation
        assert e.kind in KINDS and e.where and e.unit
        dim = dimension_of_key(key)
        assert dim is not None
        unit_dim = dimension_of_unit(e.unit)
        assert unit_dim == dim or (dim == "area" and unit_dim == "feature_area"), key


@pytest.mark.parametrize("field", ["value", "unit", "source", "node", "kind", "where"])
def test_loader_refuses_row_missing_a_field(field):
    row = {k: v for k, v in GOOD.items() if k != field}
    with pytest.raises(TableError, match=field):
        parse_table({"entries": [row]}, load_sources())


@pytest.mark.parametrize("change,match", [
    ({"source": "nobody2020"}, "not in the sources registry"),
    ({"unit": "furlongs"}, "unknown unit"),
    ({"unit": "um2"}, "key says energy"),
    ({"kind": "guessed"}, "kind"),
    ({"value": "0.2"}, "not a number"),
    ({"key": "x_stuff"}, "suffix"),
    ({"node": "fast"}, "node"),
])
def test_loader_refuses_bad_rows(change, match):
    row = {**GOOD, **change}
    with pytest.raises(TableError, match=match):
        parse_table({"entries": [row]}, load_sources())


def test_loader_refuses_duplicate_keys():
    with pytest.raises(TableError, match="duplicate"):
        parse_table({"entries": [GOOD, copy.deepcopy(GOOD)]}, load_sources())


def test_horowitz_numbers_returned_exactly_at_45nm():
    expected = {"add_int8_energy": 0.03, "add_int8_area": 36, "mult_int8_energy": 0.2, "mult_int8_area": 282,
                "mult_int32_energy": 3.1, "add_fp16_energy": 0.4, "mult_fp16_energy": 1.1, "add_fp32_energy": 0.9,
                "mult_fp32_energy": 3.7}
    s = scaling("45nm", "45nm")
    for key, value in expected.items():
        e = entry("digital", key)
        assert e.node == "45nm" and e.value * (s.area if key.endswith("area") else s.energy) == value
    assert entry("memory", "sram_8kb_read32_energy").value == 5
    assert entry("memory", "dram_read32_energy").value == 640


def test_scaling_anchor_and_monotone():
    s = scaling("45nm", "7nm")
    assert s.energy == 0.094 and s.area == 0.059 and "Stillmaker" in s.method
    nodes = [180, 130, 90, 65, 45, 32, 28, 22, 16, 14, 10, 7]
    energy = [scaling("45nm", n).energy for n in nodes]
    area = [scaling("45nm", n).area for n in nodes]
    assert all(a > b for a, b in pairwise(energy))
    assert all(a > b for a, b in pairwise(area))
    back = scaling("7nm", "45nm")
    assert back.energy == pytest.approx(1 / 0.094)
    assert "interpolated" in scaling("45nm", "16nm").method and "extrapolated" in scaling("45nm", "90nm").method


def test_quantity_conversion_checks_dimension():
    assert Quantity(2.65, "pJ").to("fJ") == pytest.approx(2650)
    assert Quantity(100, "uS").to("S") == pytest.approx(1e-4)
    with pytest.raises(ValueError):
        Quantity(1, "pJ").to("um2")
    with pytest.raises(ValueError):
        Quantity(1, "parsecs")
