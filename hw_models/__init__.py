"""Hardware cost models with cited sources (importable as `edgeq.hw_models`).

Every number comes from a table under data/ that names its unit, node, kind and source; results carry units in
their field names (energy_pj, area_um2, latency_ns).

    from edgeq.hw_models import mac_cost, network_cost, adc_cost
    mac_cost("fp8_e4m3", "fp8_e4m3", "fp16", tech="7nm").energy_pj
    network_cost("model.onnx", "int8", target="analog", hw="nl-ramp5", tech="16nm").tops_per_w
    adc_cost(5, "memristor_ramp").energy_pj
"""

from .analog import (
    ADC_KINDS,
    TILE_PRESETS,
    AdcCost,
    MacroConfig,
    adc_cost,
    crossbar_read_energy_pj,
    macro_throughput_tops,
    macro_tops_per_w,
    tile_area_um2,
    tile_preset,
    tile_read,
)
from .loader import Entry, Source, TableError, entry, load_sources, load_table, table_names
from .mac import MacCost, fig3_table, mac_cost
from .memory import memory_energy, tensor_bits
from .network import DIGITAL_PRESETS, DigitalConfig, LayerCost, NetworkCost, digital_preset, network_cost
from .plan import LayerPrecision, PrecisionPlan, parse_plan
from .scaling import DEFAULT_TECH, Scaling, scaling
from .units import Quantity
from .workload import Layer, extract_layers

__all__ = [
    "DEFAULT_TECH",
    "ADC_KINDS",
    "DIGITAL_PRESETS",
    "TILE_PRESETS",
    "AdcCost",
    "DigitalConfig",
    "Entry",
    "Layer",
    "LayerCost",
    "LayerPrecision",
    "MacCost",
    "NetworkCost",
    "PrecisionPlan",
    "Quantity",
    "Scaling",
    "Source",
    "TableError",
    "MacroConfig",
    "adc_cost",
    "crossbar_read_energy_pj",
    "digital_preset",
    "entry",
    "extract_layers",
    "fig3_table",
    "load_sources",
    "load_table",
    "mac_cost",
    "macro_throughput_tops",
    "macro_tops_per_w",
    "memory_energy",
    "network_cost",
    "parse_plan",
    "scaling",
    "table_names",
    "tensor_bits",
    "tile_area_um2",
    "tile_preset",
    "tile_read",
]
