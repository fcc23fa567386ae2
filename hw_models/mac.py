"""Gate-level cost of one multiply-accumulate for any pair of number formats and an accumulator (van Baalen et al.
2023, App. B method): multiplier, alignment shifter, adder, normaliser and accumulator register, priced with the
paper's gate rules; energy and area from Horowitz's 45 nm 8-bit multiplier per gate equivalent, moved to the asked
node with the Stillmaker & Baas factors.

Accumulators: an integer width ("int32", "int24"), an exact fixed-point (Kulisch) register ("kulisch": the
product's full fixed-point width plus KULISCH_HEADROOM_BITS carry bits), or a float ("fp16", "bf16", "fp32",
any "eXmY"). MX block formats multiply elements into an exact in-block fixed-point sum and pay the shared-scale
add, conversion and float accumulation once per block (amortised per MAC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgeq.formats import BlockFormat, FloatFormat, IntFormat, get_format

from . import gates as g
from .gates import Block
from .loader import entry
from .scaling import DEFAULT_TECH, Scaling, scaling

# 27 - 16: the carry bits the paper's 27-bit INT8 Kulisch accumulator keeps above the 16-bit product.
KULISCH_HEADROOM_BITS = 11
GUARD_BITS = 3  # guard, round, sticky of a float adder
FP32 = FloatFormat(8, 23, alias="fp32")


@dataclass(frozen=True)
class Operand:
    """What the datapath sees of a number format: significand width, exponent field, exponent range."""

    name: str
    sig_bits: int
    exp_bits: int
    min_exp: int
    max_exp: int
    lsb_exp: int
    msb_exp: int

    @property
    def is_float(self) -> bool:
        return self.exp_bits > 0


def resolve_format(fmt):
    """Return the edgeq format for a name, also accepting 'fp32'/'float32' (IEEE single, 8-bit exponent)."""
    if isinstance(fmt, str) and fmt.strip().lower() in ("fp32", "float32", "float"):
        return FP32
    return get_format(fmt)


def operand(fmt) -> Operand:
    """Return the datapath view of a scalar format (int or minifloat); block formats use their element."""
    fmt = resolve_format(fmt)
    if isinstance(fmt, BlockFormat):
        fmt = fmt.element
    if isinstance(fmt, IntFormat):
        # two's complement, LSB weight 2^0, the full width carries magnitude and sign
        return Operand(fmt.name, fmt.bits, 0, 0, 0, 0, fmt.bits)
    return Operand(fmt.name, fmt.man_bits + 1, fmt.exp_bits, fmt.min_exp, fmt.max_exp,
                   fmt.min_exp - fmt.man_bits, fmt.max_exp + 1)


@dataclass(frozen=True)
class Accumulator:
    """The accumulator: kind 'int' (width bits), 'kulisch' (exact fixed point) or 'float' (exp_bits, man_bits)."""

    name: str
    kind: str
    bits: int = 0
    exp_bits: int = 0
    man_bits: int = 0


def parse_accumulator(acc) -> Accumulator:
    """Return the accumulator for 'int32', 'kulisch', 'fp16', 'bf16', 'fp32', 'eXmY' or a FloatFormat."""
    if isinstance(acc, Accumulator):
        return acc
    if isinstance(acc, FloatFormat):
        return Accumulator(acc.name, "float", exp_bits=acc.exp_bits, man_bits=acc.man_bits)
    key = str(acc).strip().lower()
    if key in ("kulisch", "fixed", "exact"):
        return Accumulator("kulisch", "kulisch")
    if key in ("fp32", "float32", "e8m23"):
        return Accumulator("fp32", "float", exp_bits=8, man_bits=23)
    match = re.fullmatch(r"u?int(\d+)", key)
    if match:
        bits = int(match.group(1))
        if not 4 <= bits <= 128:
            raise ValueError(f"integer accumulator width {bits} outside 4..128")
        return Accumulator(key, "int", bits=bits)
    fmt = get_format(key)
    if not isinstance(fmt, FloatFormat):
        raise ValueError(f"accumulator {acc!r} must be an integer width, 'kulisch' or a float format")
    return Accumulator(fmt.name, "float", exp_bits=fmt.exp_bits, man_bits=fmt.man_bits)


def default_accumulator(weight_fmt, act_fmt) -> str:
    """Return the usual accumulator: int32 for integer pairs, fp32 when either side is a float or MX format."""
    kinds = {resolve_format(weight_fmt).kind, resolve_format(act_fmt).kind}
    return "int32" if kinds == {"int"} else "fp32"


def product_fixed_bits(a: Operand, b: Operand) -> int:
    """Return the width of the exact fixed-point product (plus a sign bit when the product is sign-magnitude)."""
    width = (a.msb_exp + b.msb_exp) - (a.lsb_exp + b.lsb_exp)
    return width + (1 if (a.is_float or b.is_float) else 0)


def multiplier_blocks(a: Operand, b: Operand) -> list[Block]:
    """Return the multiplier stage: significand array, sign, exponent adder, hidden-bit detection."""
    blocks = [g.array_multiplier(a.sig_bits, b.sig_bits)]
    floats = [op for op in (a, b) if op.is_float]
    if floats:
        blocks.append(Block("sign", {"xor2": 1}))
        blocks.append(Block("hidden-bit detect", {"ao21": sum(op.exp_bits - 1 for op in floats)}))
    if len(floats) == 2:
        blocks.append(g.ripple_adder(max(a.exp_bits, b.exp_bits), "exponent adder"))
    return blocks


def fixed_point_blocks(a: Operand, b: Operand, acc_bits: int, name: str = "accumulator") -> list[Block]:
    """Return the stages that add a product into a fixed-point register of acc_bits (shift, negate, add, store)."""
    p_bits = product_fixed_bits(a, b)
    blocks = []
    if a.is_float or b.is_float:
        span = (a.max_exp + b.max_exp) - (a.min_exp + b.min_exp)
        blocks.append(g.growing_shifter(a.sig_bits + b.sig_bits, p_bits, span + 1, "alignment shifter"))
        blocks.append(Block("two's complement negate", {"xor2": p_bits}))
    blocks.append(g.wide_accumulate_adder(p_bits, acc_bits, f"{name} adder"))
    blocks.append(g.register(acc_bits, f"{name} register"))
    return blocks


def float_adder_blocks(sig_in: int, exp_in: int, acc: Accumulator, int_input: bool) -> list[Block]:
    """Return a float accumulate stage: exponent compare, swap, align, add, normalise, round, register."""
    e, sa = acc.exp_bits, acc.man_bits + 1
    blocks = []
    if int_input:
        # an integer product is first made a float: sign-magnitude, leading-zero count, normalising shift
        blocks += [Block("int->float negate", {"xor2": sig_in}), g.or_tree(sig_in, "int->float leading-zero detect"),
                   g.barrel_shifter(sig_in, sig_in, "int->float normaliser")]
    else:
        blocks += [g.ripple_adder(e, "product exponent rebias"),
                   Block("product normalise (1 bit)", {"mux2": sig_in, "half_adder": exp_in})]
    width = max(sa, sig_in) + GUARD_BITS
    blocks += [
        g.ripple_adder(e, "exponent difference", subtract=True),
        Block("larger-exponent select", {"mux2": e}),
        Block("operand swap", {"mux2": 2 * max(sa, sig_in)}),
        g.barrel_shifter(width, width, "alignment shifter"),
        g.or_tree(width, "sticky bit"),
        g.ripple_adder(width, "significand adder", subtract=True),
        g.or_tree(width, "leading-zero detect"),
        g.barrel_shifter(width, width, "normaliser"),
        g.ripple_adder(e, "exponent update"),
        Block("rounding incrementer", {"half_adder": sa}),
        g.register(1 + e + acc.man_bits, "accumulator register"),
    ]
    return blocks


def mac_blocks(weight_fmt, act_fmt, acc) -> list[Block]:
    """Return every block of a MAC (per-block MX costs already divided by the block size)."""
    wf, af = resolve_format(weight_fmt), resolve_format(act_fmt)
    a, b = operand(wf), operand(af)
    acc = parse_accumulator(acc)
    blocks = multiplier_blocks(a, b)
    p_bits = product_fixed_bits(a, b)
    block_sizes = [f.block_size for f in (wf, af) if isinstance(f, BlockFormat)]
    if block_sizes:
        n = min(block_sizes)
        in_block = p_bits + g.clog2(n)
        blocks += fixed_point_blocks(a, b, in_block, "in-block sum")
        per_block = [g.ripple_adder(8, "shared-scale exponent adder")]
        if acc.kind == "float":
            per_block += float_adder_blocks(in_block, 0, acc, int_input=True)
        else:
            per_block += [g.wide_accumulate_adder(in_block, _int_bits(acc, in_block)),
                          g.register(_int_bits(acc, in_block))]
        blocks += [blk.scaled(1.0 / n, f"{blk.name} (per block of {n})") for blk in per_block]
        return blocks
    if acc.kind == "float":
        if a.is_float or b.is_float:
            exp_in = max(a.exp_bits, b.exp_bits) + 1
            blocks += float_adder_blocks(a.sig_bits + b.sig_bits, exp_in, acc, int_input=False)
        else:
            blocks += float_adder_blocks(p_bits, 0, acc, int_input=True)
        return blocks
    blocks += fixed_point_blocks(a, b, _int_bits(acc, p_bits))
    return blocks


def _int_bits(acc: Accumulator, p_bits: int) -> int:
    return p_bits + KULISCH_HEADROOM_BITS if acc.kind == "kulisch" else acc.bits


@dataclass(frozen=True)
class GateCost:
    """Energy and area of one gate equivalent at 45 nm, derived from a cited circuit and its gate count."""

    energy_pj: float
    area_um2: float
    derivation: str


def gate_cost_45nm() -> GateCost:
    """Return pJ and um^2 per gate equivalent: Horowitz's 45 nm 8-bit multiplier over its gate count in our model."""
    mult = g.array_multiplier(8, 8).gates()
    e, a = entry("digital", "mult_int8_energy"), entry("digital", "mult_int8_area")
    return GateCost(e.value / mult, a.value / mult,
                    f"Horowitz 2014 8b mult {e.value:g} pJ / {a.value:g} um^2 over its {mult:g} gates (App. B rules)")


@dataclass(frozen=True)
class MacCost:
    """Cost of one MAC: gate count, energy (pJ) and area (um^2) at `tech`, with the blocks and sources behind them."""

    weight_fmt: str
    act_fmt: str
    acc_fmt: str
    tech_nm: float
    gates: float
    energy_pj: float
    area_um2: float
    blocks: tuple[tuple[str, float], ...]
    scaling: Scaling
    derivation: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict:
        """Return a JSON-ready dict with units in the key names."""
        return {
            "weight_fmt": self.weight_fmt, "act_fmt": self.act_fmt, "acc_fmt": self.acc_fmt,
            "tech_nm": self.tech_nm, "gates": self.gates, "energy_pj": self.energy_pj, "area_um2": self.area_um2,
            "blocks": [{"name": n, "gates": v} for n, v in self.blocks],
            "scaling": self.scaling.to_dict(), "derivation": self.derivation, "sources": list(self.sources),
        }


def mac_cost(weight_fmt, act_fmt=None, acc_fmt=None, tech: str | float = DEFAULT_TECH) -> MacCost:
    """Return the MacCost of weight_fmt x act_fmt accumulated in acc_fmt (default int32 / fp32) at node `tech`."""
    act_fmt = weight_fmt if act_fmt is None else act_fmt
    acc_fmt = default_accumulator(weight_fmt, act_fmt) if acc_fmt is None else acc_fmt
    blocks = mac_blocks(weight_fmt, act_fmt, acc_fmt)
    rules = g.gate_rules()
    merged: dict[str, float] = {}
    for blk in blocks:
        merged[blk.name] = merged.get(blk.name, 0.0) + blk.gates(rules)
    total = sum(merged.values())
    per_gate = gate_cost_45nm()
    scale = scaling("45nm", tech)
    sources = [entry("digital", "full_adder_gates").source.citation, entry("digital", "mult_int8_energy").cite()]
    if scale.to_nm != scale.from_nm:
        sources.append(entry("scaling", "s7_energy_ratio").source.citation)
    return MacCost(
        weight_fmt=resolve_format(weight_fmt).name, act_fmt=resolve_format(act_fmt).name,
        acc_fmt=parse_accumulator(acc_fmt).name, tech_nm=scale.to_nm, gates=total,
        energy_pj=total * per_gate.energy_pj * scale.energy, area_um2=total * per_gate.area_um2 * scale.area,
        blocks=tuple(merged.items()), scaling=scale, derivation=per_gate.derivation, sources=tuple(sources),
    )


# Fig. 3 of van Baalen et al.: (label, weight, activation, accumulator, reference key)
FIG3_CASES = (
    ("INT8, 27-bit Kulisch", "int8", "int8", "kulisch", "int8_kulisch27_mac_gates"),
    ("FP8-E4, fixed-point", "fp8_e4m3", "fp8_e4m3", "kulisch", "fp8e4_fixed_mac_gates"),
    ("FP8-E4, FP16 acc", "fp8_e4m3", "fp8_e4m3", "fp16", "fp8e4_fp16_mac_gates"),
    ("FP8-E4, FP32 acc", "fp8_e4m3", "fp8_e4m3", "fp32", "fp8e4_fp32_mac_gates"),
    ("FP8-E5, fixed-point", "fp8_e5m2", "fp8_e5m2", "kulisch", "fp8e5_fixed_mac_gates"),
    ("FP8-E5, FP16 acc", "fp8_e5m2", "fp8_e5m2", "fp16", "fp8e5_fp16_mac_gates"),
    ("FP8-E5, FP32 acc", "fp8_e5m2", "fp8_e5m2", "fp32", "fp8e5_fp32_mac_gates"),
)


def fig3_table() -> list[dict]:
    """Return our gate counts beside van Baalen et al. Fig. 3, one dict per MAC with the relative error."""
    rows = []
    for label, w, a, acc, key in FIG3_CASES:
        ours = mac_cost(w, a, acc).gates
        paper = entry("reference", key).value
        rows.append({"mac": label, "ours_gates": ours, "paper_gates": paper, "error": ours / paper - 1.0})
    return rows
