"""What a gate result depends on besides the code under test: library versions, CPU features, and the data."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

from ..io import load_arrays

# Packages whose versions change int8/fp8 numerics (kernels, graph optimizers, rounding) or the gate's own logic.
TRACKED_PACKAGES = ("edgeq", "onnxruntime", "onnx", "numpy")

# x86/ARM features that select different int8/bf16 kernels in onnxruntime: without VNNI, u8s8 int8 GEMMs use
# saturating 16-bit intermediate sums, so the same model can score differently on two CI runners.
TRACKED_CPU_FLAGS = (
    "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
    "amx_int8", "amx_bf16", "asimddp", "i8mm", "bf16", "sve",
)


def package_versions() -> dict[str, str]:
    """Return the installed version of each tracked package ('absent' when not installed)."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """Return the tracked CPU feature flags this machine has (from /proc/cpuinfo on Linux), sorted."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    present: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            present.update(value.split())
    return sorted(flag for flag in TRACKED_CPU_FLAGS if flag in present)


def environment_fingerprint() -> dict:
    """Return the environment a gate run measured in: package versions, machine, Python and CPU flags."""
    return {
        "cpu_flags": cpu_flags(),
        "machine": platform.machine(),
        "packages": package_versions(),
        "python": platform.python_version(),
    }


def environment_differences(recorded: dict, current: dict) -> list[str]:
    """Return one human-readable line per difference between two fingerprints (empty when they agree)."""
    lines = []
    old_pkgs, new_pkgs = recorded.get("packages", {}), current.get("packages", {})
    for name in sorted(set(old_pkgs) | set(new_pkgs)):
        if old_pkgs.get(name) != new_pkgs.get(name):
            lines.append(f"{name} {old_pkgs.get(name, 'absent')} -> {new_pkgs.get(name, 'absent')}")
    old_flags, new_flags = set(recorded.get("cpu_flags", [])), set(current.get("cpu_flags", []))
    if old_flags != new_flags:
        gained, lost = sorted(new_flags - old_flags), sorted(old_flags - new_flags)
        parts = ([f"+{f}" for f in gained]) + ([f"-{f}" for f in lost])
        lines.append("CPU flags " + " ".join(parts))
    for key in ("machine", "python"):
        if recorded.get(key) != current.get(key):
            lines.append(f"{key} {recorded.get(key)} -> {current.get(key)}")
    return lines


def data_hash(path: str | Path) -> str:
    """Return 'sha256:<hex>' over the arrays' names, dtypes, shapes and bytes (not the file bytes).

    Hashing the arrays, not the .npz file, means re-saving the same data (new zip timestamps, other compression)
    keeps the hash, while any change to a value, a shape or a label changes it.
    """
    arrays = load_arrays(path)
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return "sha256:" + digest.hexdigest()


def file_hash(path: str | Path) -> str:
    """Return 'sha256:<hex>' of a file's bytes (used for models, whose bytes are their identity)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
