"""Gate-level building blocks of a MAC, counted in primitives and priced with the van Baalen et al. App. B rules.

Each function returns a `Block`: a named count of primitives (AND2, AO21, MUX2, XOR2, half/full adders,
flip-flops). Two-input ORs (hidden-bit detection, sticky bit, leading-zero detection) are counted as AO21 with one
input tied, the nearest primitive in the rule set. These are pure integer functions; mac.py assembles them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .loader import entry

PRIMITIVES = ("and2", "ao21", "mux2", "xor2", "half_adder", "full_adder", "flip_flop")


def gate_rules() -> dict[str, float]:
    """Return primitive -> gate equivalents, from the cited table (AND2=1, AO21=2, MUX2=XOR2=HA=3, FA=7, FF=6)."""
    return {p: entry("digital", f"{p}_gates").value for p in PRIMITIVES}


@dataclass(frozen=True)
class Block:
    """A named part of a MAC and the primitives it is built from."""

    name: str
    counts: dict[str, float] = field(default_factory=dict)

    def gates(self, rules: dict[str, float] | None = None) -> float:
        """Return the block's size in gate equivalents."""
        rules = rules or gate_rules()
        return float(sum(rules[p] * n for p, n in self.counts.items()))

    def scaled(self, factor: float, name: str | None = None) -> Block:
        """Return the block with every count multiplied (amortising a per-block cost over its elements)."""
        return Block(name or self.name, {p: n * factor for p, n in self.counts.items()})


def clog2(n: int) -> int:
    """Return ceil(log2(n)) for n >= 1 (0 for n = 1): the stages of a barrel shifter over n positions."""
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


def array_multiplier(n: int, m: int, name: str = "significand multiplier") -> Block:
    """Return an n x m array multiplier: n*m AND2 partial products, reduced by n half adders and n(m-2) full adders."""
    n, m = max(n, m), min(n, m)
    if m <= 1:
        return Block(name, {"and2": n * m})
    return Block(name, {"and2": n * m, "half_adder": n, "full_adder": n * (m - 2)})


def ripple_adder(bits: int, name: str, subtract: bool = False) -> Block:
    """Return a ripple-carry adder of `bits` full adders (plus XOR2 inverters when it also subtracts)."""
    counts = {"full_adder": bits}
    if subtract:
        counts["xor2"] = bits
    return Block(name, counts)


def wide_accumulate_adder(product_bits: int, acc_bits: int, name: str = "accumulator adder") -> Block:
    """Return the adder of a wide accumulator: full adders under the product, a half-adder carry chain above it."""
    low = min(product_bits, acc_bits)
    return Block(name, {"full_adder": low, "half_adder": max(0, acc_bits - low)})


def barrel_shifter(width: int, positions: int, name: str) -> Block:
    """Return a logarithmic shifter of `width` bits over `positions` shift amounts (MUX2 per bit per stage)."""
    return Block(name, {"mux2": width * clog2(positions)})


def growing_shifter(in_bits: int, out_bits: int, positions: int, name: str = "alignment shifter") -> Block:
    """Return a left shifter whose stages widen from `in_bits` towards `out_bits` (placing a product in a wide field)."""
    muxes = 0
    for stage in range(clog2(positions)):
        muxes += min(out_bits, in_bits + (1 << (stage + 1)) - 1)
    return Block(name, {"mux2": muxes})


def register(bits: int, name: str = "accumulator register") -> Block:
    """Return a register of `bits` flip-flops."""
    return Block(name, {"flip_flop": bits})


def or_tree(inputs: int, name: str) -> Block:
    """Return an OR of `inputs` bits (inputs - 1 two-input ORs, counted as AO21)."""
    return Block(name, {"ao21": max(0, inputs - 1)})
