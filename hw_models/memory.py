"""Memory traffic and its energy: the bytes a tensor needs in a number format (scales and MX block scales
included) and the SRAM/DRAM energy of moving them (Horowitz 2014, 45 nm)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeq.formats import BlockFormat, get_format

from .loader import entry
from .scaling import DEFAULT_TECH, scaling

SCALE_BITS = 32  # one fp32 scale per tensor or per channel (the QDQ convention)


@dataclass(frozen=True)
class TensorBits:
    """Storage of one tensor: element payload bits and the bits of its scales (per-tensor/channel and MX blocks)."""

    payload_bits: float
    scale_bits: float

    @property
    def total_bits(self) -> float:
        return self.payload_bits + self.scale_bits

    @property
    def total_bytes(self) -> float:
        return self.total_bits / 8


def tensor_bits(n_elements: int, fmt, n_scales: int = 1) -> TensorBits:
    """Return the bits to store n_elements in fmt with n_scales fp32 scales (floats at 32 bits need none)."""
    if _is_float32(fmt):
        return TensorBits(32.0 * n_elements, 0.0)
    fmt = get_format(fmt)
    payload = float(fmt.bits) * n_elements
    scales = float(SCALE_BITS * n_scales)
    if isinstance(fmt, BlockFormat):
        scales = 8.0 * -(-n_elements // fmt.block_size)  # one E8M0 scale per block, no tensor scale
    return TensorBits(payload, scales)


def _is_float32(fmt) -> bool:
    return isinstance(fmt, str) and fmt.strip().lower() in ("fp32", "float32", "float")


@dataclass(frozen=True)
class MemoryEnergy:
    """Energy per bit read from on-chip SRAM and off-chip DRAM at a node, and where the figures come from."""

    sram_pj_per_bit: float
    dram_pj_per_bit: float
    notes: tuple[str, ...]


def memory_energy(tech: str | float = DEFAULT_TECH) -> MemoryEnergy:
    """Return SRAM (scaled with the node) and DRAM (I/O bound, not scaled) energy per bit at `tech`."""
    sram, dram = entry("memory", "sram_8kb_read32_energy"), entry("memory", "dram_read32_energy")
    scale = scaling(sram.node, tech)
    return MemoryEnergy(
        sram_pj_per_bit=sram.value / 32 * scale.energy,
        dram_pj_per_bit=dram.value / 32,
        notes=(f"SRAM {sram.value:g} pJ per 32-bit read of an 8 KB array, {sram.cite()}; {scale.describe()}",
               f"DRAM {dram.value:g} pJ per 32-bit read, {dram.cite()}; not scaled (interface-bound)"),
    )
