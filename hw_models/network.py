"""Network-level cost: per-layer and total energy, area, latency and TOPS/W of an ONNX model under a precision plan,
on a digital accelerator (MAC array + SRAM/DRAM) or an analog in-memory one (crossbar tiles + converters)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from edgeq.errors import UserError

from . import gates as g
from .analog import (
    MacroConfig,
    adc_cost,
    crossbar_read_energy_pj,
    tile_area_um2,
    tile_preset,
    tile_read,
    tiles_for_matrix,
)
from .loader import entry
from .mac import gate_cost_45nm, mac_cost
from .memory import memory_energy, tensor_bits
from .plan import PrecisionPlan, parse_plan, plan_from_graph
from .scaling import DEFAULT_TECH, parse_node, scaling
from .workload import Layer, extract_layers

ACTIVATION_LUT_BITS = 8  # a digital activation is one 8-bit word read from a lookup table


@dataclass(frozen=True)
class DigitalConfig:
    """A digital accelerator: `macs_per_cycle` MAC units at `clock_hz`, `sram_kib` of on-chip buffer. Weights that
    fit in the buffer stay resident (no DRAM per inference); otherwise they stream from DRAM once per inference.
    Traffic is the ideal-reuse lower bound: every weight, input and output crosses the SRAM port once per layer."""

    name: str = "custom"
    macs_per_cycle: int = 256
    clock_hz: float = 1e9
    sram_kib: float = 512.0

    def __post_init__(self) -> None:
        if self.macs_per_cycle < 1 or self.clock_hz <= 0 or self.sram_kib < 0:
            raise ValueError("macs_per_cycle, clock_hz must be positive and sram_kib non-negative")


DIGITAL_PRESETS: dict[str, DigitalConfig] = {
    "edge-npu": DigitalConfig("edge-npu", macs_per_cycle=256, clock_hz=1e9, sram_kib=512),
    "mcu": DigitalConfig("mcu", macs_per_cycle=4, clock_hz=2e8, sram_kib=256),
    "datacenter": DigitalConfig("datacenter", macs_per_cycle=16384, clock_hz=1.5e9, sram_kib=32768),
}


def digital_preset(name: str | DigitalConfig | None) -> DigitalConfig:
    """Return a named DigitalConfig (edge-npu, mcu, datacenter) or the one given."""
    if isinstance(name, DigitalConfig):
        return name
    key = (name or "edge-npu").lower()
    if key not in DIGITAL_PRESETS:
        raise UserError(f"unknown digital preset {name!r}; choose from {', '.join(DIGITAL_PRESETS)}")
    return DIGITAL_PRESETS[key]


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer: energy by part (pJ), latency (ns), area it occupies (um^2), and what it computes."""

    name: str
    op: str
    precision: str
    macs: int
    weights: int
    energy_pj: dict
    latency_ns: float
    area_um2: float = 0.0
    tiles: int = 0

    @property
    def total_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {"name": self.name, "op": self.op, "precision": self.precision, "macs": self.macs,
                "weights": self.weights, "energy_pj": self.total_pj, "energy_breakdown_pj": dict(self.energy_pj),
                "latency_ns": self.latency_ns, "area_um2": self.area_um2, "tiles": self.tiles}


@dataclass(frozen=True)
class NetworkCost:
    """Cost of one inference: per-layer costs, totals, efficiency, the hardware assumed and the sources used."""

    model: str
    target: str
    tech_nm: float
    hw: dict
    batch: int
    layers: tuple[LayerCost, ...]
    area_um2: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def macs(self) -> int:
        return int(sum(layer.macs for layer in self.layers))

    @property
    def energy_pj(self) -> float:
        return float(sum(layer.total_pj for layer in self.layers))

    @property
    def energy_uj(self) -> float:
        return self.energy_pj * 1e-6

    @property
    def latency_ns(self) -> float:
        return float(sum(layer.latency_ns for layer in self.layers))

    @property
    def tops_per_w(self) -> float:
        """Return 2 x MACs per joule in tera-ops per watt (ops/pJ)."""
        return 2.0 * self.macs / self.energy_pj if self.energy_pj > 0 else 0.0

    def breakdown_pj(self) -> dict:
        """Return total energy per part (compute, sram, dram, adc, ...) over all layers."""
        out: dict[str, float] = {}
        for layer in self.layers:
            for k, v in layer.energy_pj.items():
                out[k] = out.get(k, 0.0) + v
        return out

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (units in key names)."""
        return {
            "model": self.model, "target": self.target, "tech_nm": self.tech_nm, "hw": self.hw, "batch": self.batch,
            "totals": {"macs": self.macs, "energy_pj": self.energy_pj, "energy_uj": self.energy_uj,
                       "latency_ns": self.latency_ns, "area_um2": self.area_um2, "area_mm2": self.area_um2 * 1e-6,
                       "tops_per_w": self.tops_per_w, "energy_breakdown_pj": self.breakdown_pj()},
            "layers": [layer.to_dict() for layer in self.layers],
            "notes": list(self.notes),
        }


def _side_ops_pj(layer: Layer, tech: float, nl_absorbed: bool = False) -> dict:
    """Return the energy of a layer's non-MAC work: simple elementwise ops as one 8-bit add each (Horowitz 8b add,
    scaled), activation functions as one 8-bit lookup-table read from SRAM each, except those a nonlinear ramp
    ADC already produced (nl_absorbed)."""
    add = entry("digital", "add_int8_energy")
    out = {}
    if layer.elementwise:
        out["elementwise"] = layer.elementwise * add.value * scaling(add.node, tech).energy
    lut_evals = layer.nl_other + (0 if nl_absorbed else layer.nl_on_mvm)
    if lut_evals:
        out["activation LUT"] = lut_evals * ACTIVATION_LUT_BITS * memory_energy(tech).sram_pj_per_bit
    return out


def _digital(layers: list[Layer], plan: PrecisionPlan, tech: float, hw: DigitalConfig) -> tuple[list, float, list]:
    mem = memory_energy(tech)
    weight_bits_total = 0.0
    costs, mac_area = [], 0.0
    for layer in layers:
        if not layer.is_matrix:
            costs.append(LayerCost(layer.name, layer.op, "-", 0, 0, _side_ops_pj(layer, tech),
                                   math.ceil(layer.out_elems / hw.macs_per_cycle) / hw.clock_hz * 1e9))
            continue
        p = plan.for_layer(layer.name)
        mac = mac_cost(p.weight, p.act, p.acc, tech)
        mac_area = max(mac_area, mac.area_um2)
        w_bits = tensor_bits(layer.weight_elems, p.weight, n_scales=max(1, layer.n_cols * layer.groups)).total_bits
        in_bits = tensor_bits(layer.in_elems, p.act).total_bits
        out_bits = tensor_bits(layer.out_elems, p.act).total_bits
        weight_bits_total += w_bits
        energy = {"compute": layer.macs * mac.energy_pj,
                  "sram": (w_bits + in_bits + out_bits) * mem.sram_pj_per_bit, **_side_ops_pj(layer, tech)}
        latency = math.ceil(layer.macs / hw.macs_per_cycle) / hw.clock_hz * 1e9
        # the MAC array is shared by all layers: its area is counted once, in the total
        costs.append(LayerCost(layer.name, layer.op, p.label(), layer.macs, layer.weight_elems, energy, latency))
    notes = list(mem.notes)
    if weight_bits_total / 8 > hw.sram_kib * 1024:
        # weights do not fit on chip: each inference streams them once from DRAM
        costs = [replace(c, energy_pj={**c.energy_pj, "dram": _layer_weight_bits(c, plan) * mem.dram_pj_per_bit})
                 if c.macs else c for c in costs]
        notes.append(f"weights ({weight_bits_total / 8 / 1024:.1f} KiB) exceed {hw.sram_kib:g} KiB SRAM: "
                     "streamed from DRAM every inference")
    else:
        notes.append(f"weights ({weight_bits_total / 8 / 1024:.1f} KiB) resident in {hw.sram_kib:g} KiB SRAM")
    notes.append(f"MAC energy/area from the gate model: {gate_cost_45nm().derivation}")
    return costs, hw.macs_per_cycle * mac_area, notes


def _layer_weight_bits(cost: LayerCost, plan: PrecisionPlan) -> float:
    return tensor_bits(cost.weights, plan.for_layer(cost.name).weight).total_bits


def _measured_crossbar_pj(layer: Layer, tile: MacroConfig, data) -> float:
    # data = (conductances [K, N] or [K, 2N] in S, voltages [reads, K] in V) from a simulator run; the reads are
    # a sample of the layer's input vectors, so the energy is scaled to all of them
    g_s, v_v = data
    v = np.atleast_2d(np.asarray(v_v, dtype=np.float64))
    if np.asarray(g_s).shape[0] != layer.k_rows * layer.groups and np.asarray(g_s).shape[0] != layer.k_rows:
        raise UserError(f"crossbar data for {layer.name}: conductances need {layer.k_rows} rows (the layer's inputs)")
    cycles = 1 if tile.adc_kind == "sar" or tile.hold_column else adc_cost(
        tile.adc_bits, tile.adc_kind, coarse_bits=tile.adc_coarse_bits).cycles
    per_read = crossbar_read_energy_pj(g_s, v, cycles / tile.clock_hz) / v.shape[0]
    return per_read * layer.vectors * layer.groups


def _group_layout(layer: Layer, tile: MacroConfig) -> tuple[MacroConfig, int, int, int]:
    """Return (tile, rows, cols, copies) of a layer's weight blocks: one block for an ungrouped layer; for groups,
    p groups block-diagonal per block ("block") or one small k_g x n_g tile per group ("per_group")."""
    k, n, g = layer.k_rows, layer.n_cols, layer.groups
    if g == 1:
        return tile, k, n, 1
    if tile.group_mapping == "per_group":
        return replace(tile, rows=min(k, tile.rows), cols=min(n, tile.cols)), k, n, g
    p = min(tile.rows // k, tile.cols // n, g) if k <= tile.rows and n <= tile.cols else 1
    return tile, p * k, p * n, -(-g // p)


def _analog(layers: list[Layer], plan: PrecisionPlan, tech: float, tile: MacroConfig,
            crossbar_data: dict | None = None) -> tuple[list, float, list]:
    mem = memory_energy(tech)
    gate = gate_cost_45nm()
    gate_scale = scaling("45nm", tech)
    tile_area = sum(tile_area_um2(tile).values())
    costs, total_tiles, notes = [], 0, []
    digital_fallback, measured, grouped = [], [], []
    for layer in layers:
        if not layer.is_matrix:
            costs.append(LayerCost(layer.name, layer.op, "-", 0, 0, _side_ops_pj(layer, tech), 0.0))
            continue
        if not layer.static_weights:
            # activation x activation products cannot live in a crossbar: they run on digital MACs
            mac = mac_cost(plan.for_layer(layer.name).weight, plan.for_layer(layer.name).act,
                           plan.for_layer(layer.name).acc, tech)
            digital_fallback.append(layer.name)
            costs.append(LayerCost(layer.name, layer.op, "digital", layer.macs, 0,
                                   {"compute": layer.macs * mac.energy_pj, **_side_ops_pj(layer, tech)},
                                   layer.macs / tile.clock_hz * 1e9))
            continue
        layer_tile, k_rows, n_cols, copies = _group_layout(layer, tile)
        row_tiles, col_tiles = tiles_for_matrix(layer_tile, k_rows, n_cols)
        n_tiles = row_tiles * col_tiles * copies
        if layer.groups > 1:
            used = layer.groups * layer.k_rows * layer.n_cols / (n_tiles * layer_tile.rows * layer_tile.cols)
            grouped.append(f"{layer.name} ({layer.groups} groups of {layer.k_rows}x{layer.n_cols}: {n_tiles} tiles "
                           f"of {layer_tile.rows}x{layer_tile.cols}, {used:.1%} of cells used)")
        energy = {"crossbar": 0.0, "dac": 0.0, "adc": 0.0}
        cycles = 0
        for r in range(row_tiles):
            rows_used = min(layer_tile.rows, k_rows - r * layer_tile.rows)
            for c in range(col_tiles):
                cols_used = min(layer_tile.cols, n_cols - c * layer_tile.cols)
                read = tile_read(layer_tile, rows_used, cols_used)
                for k, v in read.energy_pj.items():
                    energy[k] += v * layer.vectors * copies
                cycles = max(cycles, read.cycles)
        if crossbar_data and layer.name in crossbar_data:
            energy["crossbar"] = _measured_crossbar_pj(layer, tile, crossbar_data[layer.name])
            measured.append(layer.name)
        # partial sums of row tiles are added digitally: (row_tiles - 1) adds per output per vector
        add_bits = tile.adc_bits + g.clog2(row_tiles) + 1
        adds = (row_tiles - 1) * n_cols * copies * layer.vectors
        energy["partial sums"] = adds * g.ripple_adder(add_bits, "psum").gates() * gate.energy_pj * gate_scale.energy
        io_bits = (layer.in_elems * tile.dac_bits + layer.out_elems * tile.adc_bits)
        energy["sram"] = io_bits * mem.sram_pj_per_bit
        energy.update(_side_ops_pj(layer, tech, nl_absorbed=tile.adc_kind == "memristor_ramp"))
        latency = layer.vectors * cycles / tile.clock_hz * 1e9
        total_tiles += n_tiles
        area = n_tiles * (tile_area if layer_tile is tile else sum(tile_area_um2(layer_tile).values()))
        costs.append(LayerCost(layer.name, layer.op, f"analog {tile.adc_bits}b {tile.adc_kind}", layer.macs,
                               layer.weight_elems, energy, latency, area, n_tiles))
    notes.append(f"tile {tile.name}: {tile.rows}x{tile.cols} {tile.cell}{' differential' if tile.differential else ''},"
                 f" {tile.dac_bits}-bit DAC, {tile.adc_bits}-bit {tile.adc_kind} ADC per {tile.cols_per_adc} column(s),"
                 f" {tile.clock_hz / 1e9:g} GHz; weight-stationary, one tile per weight block, tiles of a layer run in"
                 " parallel, layers in sequence")
    notes.append(adc_cost(tile.adc_bits, tile.adc_kind).notes[0])
    notes.append(f"cells {tile.cell}: {entry('analog', 'cell_1t1r_area' if tile.cell == '1t1r' else 'cell_passive_area').cite()}"
                 f"; ADC area from {entry('analog', 'isaac_adc8_area').cite()}, x2^(bits-8), node-scaled")
    notes.append("the plan's formats set digital layers only: on the analog target weights are conductances and "
                 "inputs/outputs take the tile's DAC/ADC bits")
    notes.append("crossbar energy from the mean device conductance and uniform inputs"
                 + (f", except layers with simulator data: {', '.join(measured)}" if measured else
                    " (pass crossbar_data={layer: (G, V)} for data-true energy)"))
    if grouped:
        notes.append(f"grouped convolutions mapped '{tile.group_mapping}' (block: groups block-diagonal within a tile; "
                     f"per_group: one small tile per group): {'; '.join(grouped)}")
    if digital_fallback:
        notes.append(f"activation x activation products run on digital MACs: {', '.join(digital_fallback)}")
    return costs, total_tiles * tile_area, notes


def network_cost(model_or_path, plan="int8", target: str = "digital", tech: str | float = DEFAULT_TECH,
                 hw: str | DigitalConfig | MacroConfig | None = None, acc: str | None = None,
                 batch: int = 1, crossbar_data: dict | None = None, feeds: dict | None = None) -> NetworkCost:
    """Return the NetworkCost of one inference of an ONNX model (path or ModelProto) under a precision plan
    (format name, dict, PrecisionPlan, `edgeq quantize` JSON report, or 'auto': the formats of the model's own
    QuantizeLinear/DequantizeLinear pairs, fp32 where it has none) on a 'digital' or 'analog' target at `tech`.
    `hw` is a preset name or config (digital: edge-npu, mcu, datacenter; analog: sar8, sar5, ramp5, nl-ramp5,
    isaac-like); `acc` sets the accumulator of every layer the plan does not set. On the analog target,
    crossbar_data maps a layer name to (conductances [K, N] in S, input voltages [reads, K] in V) from a simulator
    run, and that layer's crossbar energy becomes sum G V^2 t over those reads, scaled to all its input vectors.
    `feeds` (one inference's inputs) size models that ONNX shape inference leaves unsized."""
    try:
        tech_nm = parse_node(tech)
    except ValueError as err:
        raise UserError(str(err)) from None
    if batch < 1:
        raise UserError("batch must be at least 1")
    layers = extract_layers(model_or_path, batch=batch, feeds=feeds)
    if plan is None or (isinstance(plan, str) and plan.lower() in ("auto", "qdq")):
        plan = plan_from_graph(layers, acc)
    else:
        plan = parse_plan(plan, acc=acc, layer_names=[layer.name for layer in layers],
                          matrix_names=[layer.name for layer in layers if layer.is_matrix])
    name = model_or_path if isinstance(model_or_path, str) else getattr(model_or_path, "name", "<model>")
    if target == "digital":
        config = digital_preset(hw if not isinstance(hw, MacroConfig) else None)
        costs, area, notes = _digital(layers, plan, tech_nm, config)
        hw_dict = {"kind": "digital", **config.__dict__}
    elif target == "analog":
        try:
            config = tile_preset(hw if not isinstance(hw, DigitalConfig) else None, tech=f"{tech_nm:g}nm")
        except ValueError as err:
            raise UserError(str(err)) from None
        costs, area, notes = _analog(layers, plan, tech_nm, config, crossbar_data)
        hw_dict = {"kind": "analog", **config.__dict__}
    else:
        raise UserError(f"target must be 'digital' or 'analog', got {target!r}")
    return NetworkCost(str(name), target, tech_nm, hw_dict, batch, tuple(costs), area, tuple(notes))
