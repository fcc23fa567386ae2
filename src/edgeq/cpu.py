"""What this CPU's int8 kernels compute exactly: VNNI/AMX detection for the `ort-cpu` target, read at run time.

onnxruntime's x86 u8 x s8 GEMM without VNNI multiplies with `vpmaddubsw`, which adds pairs of 8-bit products into
a saturating 16-bit sum: with full-range int8 weights and uint8 activations a pair can reach 2 * 255 * 127 =
64770 > 32767, so the result is clipped (logit SQNR 39.6 -> 19.7 dB on the digits CNN, ../shared/RESEARCH.md).
VNNI (`vpdpbusd`, AVX512-VNNI or AVX-VNNI) and AMX accumulate straight into 32 bits, and ARM's dot-product
instructions (`sdot`/`udot`) do too, so full-range weights are exact there.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

EXACT_X86_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
EXACT_ARM_FLAGS = ("asimddp",)


@dataclass(frozen=True)
class Int8Kernels:
    """Whether full-range int8 weights are exact in onnxruntime's CPU kernels here, and why."""

    exact: bool
    feature: str  # the CPU feature that decided it ("avx512_vnni", ...), or "" when none was found
    machine: str

    def describe(self) -> str:
        """Return a short phrase for reports: which feature makes int8 exact, or why it is not."""
        if self.exact:
            return f"this CPU has {self.feature}: full-range int8 kernels are exact"
        return "this CPU has no VNNI" if self.machine in ("x86_64", "amd64", "i686") else (
            f"no int8 dot-product instructions found on this {self.machine} CPU")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """Return the CPU feature flags (Linux /proc/cpuinfo `flags`/`Features`); empty where they cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def int8_kernels(flags: frozenset[str] | None = None, machine: str | None = None) -> Int8Kernels:
    """Return whether onnxruntime's int8 CPU kernels are exact with full-range weights on this (or a given) CPU."""
    flags = cpu_flags() if flags is None else flags
    machine = (machine or platform.machine()).lower()
    wanted = EXACT_ARM_FLAGS if machine in ("aarch64", "arm64") else EXACT_X86_FLAGS
    found = next((f for f in wanted if f in flags), "")
    return Int8Kernels(bool(found), found, machine)


__all__ = ["Int8Kernels", "cpu_flags", "int8_kernels"]
