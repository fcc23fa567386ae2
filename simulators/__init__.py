"""Analog in-memory-computing simulators (importable as `edgeq.simulators`).

One entry point for whole models (the CLI, the gate runner and the sweep use it):

    from edgeq.simulators import simulate
    result = simulate("model.onnx", "pcm", {"image": x}, labels=y, drift_times=[1, 86400])   # SimulationResult

Crossbar API (stable; other simulators build on it):

    from edgeq.simulators import get_preset, program
    arr = program(W, get_preset("rram"), np.random.default_rng(0))      # W: (in_features, out_features)
    y = arr.matmul(x, t_seconds=86400.0, rng=np.random.default_rng(1))  # simulated x @ W one day later

Device-level helpers for single columns of memristors: `DeviceModel(config).program / drift_coefficients /
at_time / read`, with `RRAM_DEVICE`, `PCM_DEVICE`, `IDEAL_DEVICE` configs.
"""

from .adc import ADCConfig, DACConfig
from .crossbar import ArrayState, ProgrammedArray, program, tile_ranges
from .devices import (
    IDEAL_DEVICE,
    PCM_DEVICE,
    RRAM_DEVICE,
    ConductanceRange,
    DeviceConfig,
    DeviceModel,
    Drift,
    Faults,
    OneOverFNoise,
    ProgrammingNoise,
    ReadNoise,
    Relaxation,
)
from .ir_drop import IRDropConfig, effective_conductance
from .presets import PRESETS, CrossbarConfig, TileConfig, get_preset, list_presets

__all__ = [
    "IDEAL_DEVICE",
    "PCM_DEVICE",
    "PRESETS",
    "RRAM_DEVICE",
    "ADCConfig",
    "ArrayState",
    "ConductanceRange",
    "CrossbarConfig",
    "DACConfig",
    "DeviceConfig",
    "DeviceModel",
    "Drift",
    "Faults",
    "IRDropConfig",
    "OneOverFNoise",
    "ProgrammedArray",
    "ProgrammingNoise",
    "ReadNoise",
    "Relaxation",
    "TileConfig",
    "effective_conductance",
    "get_preset",
    "list_presets",
    "program",
    "simulate",
    "SimulationResult",
    "tile_ranges",
]


def __getattr__(name: str):
    """Import `simulate` / `SimulationResult` on first use (they pull in onnxruntime and torch)."""
    if name in ("simulate", "SimulationResult"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'edgeq.simulators' has no attribute {name!r}")
