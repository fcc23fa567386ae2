"""`CrossbarConfig`: everything that defines a simulated analog tile, and the named presets.

cfg = get_preset("rram")                                       # frozen; change one knob with replace():
cfg = dataclasses.replace(cfg, adc=ADCConfig(bits=6))
cfg = cfg.with_ir_drop(1.0)                                    # 1 ohm per wire segment
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from edgeq.errors import ConfigError

from .adc import ADCConfig, DACConfig
from .devices import IDEAL_DEVICE, PCM_DEVICE, RRAM_DEVICE, DeviceConfig
from .ir_drop import IRDropConfig
from .periphery import DRIFT_COMPENSATIONS, PeripheryCalibration

__all__ = ["PRESETS", "CrossbarConfig", "TileConfig", "get_preset", "list_presets"]


@dataclass(frozen=True)
class TileConfig:
    """How a weight matrix is laid out on fixed-size arrays."""

    rows: int = 256
    """Word lines per tile (inputs); larger matrices are split, and the tiles' digitized partial sums are added."""
    cols: int = 256
    """Weight columns per tile (outputs); a differential pair uses two physical bit lines per column."""
    mapping: Literal["differential", "offset"] = "differential"
    """"differential": w = (G+ - G-) / (G_max - G_min) * w_max, two devices per weight;
    "offset": one device per weight, G = G_min + (w / w_max + 1) / 2 * (G_max - G_min), minus a reference column
    programmed to the mid conductance (one per tile, shared by all its columns)."""
    weight_scale: Literal["column", "tile"] = "column"
    """w_max per column of each tile (best use of the conductance range) or one per tile."""
    weight_slices: int = 1
    """Bit slicing: each weight is split into this many digits of `slice_bits` bits, each on its own devices and
    tiles; the tiles' digitized outputs are shift-added. 1 = one device pair per weight (no slicing)."""
    slice_bits: int = 4
    """Bits per weight slice when weight_slices > 1 (each slice uses 2^slice_bits conductance levels)."""
    group_mapping: Literal["block", "per_group"] = "block"
    """Grouped/depthwise convolutions: "block" packs as many groups as fit block-diagonally into one tile (few
    tiles, low utilisation, off-diagonal G_min cells add noise); "per_group" gives each group its own small tile
    (no shared columns, one periphery per group). See `onnx_map.py`."""

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ConfigError("tile rows and cols must be >= 1")
        if self.mapping not in ("differential", "offset"):
            raise ConfigError(f"mapping must be 'differential' or 'offset', got {self.mapping!r}")
        if self.weight_slices < 1 or not 1 <= self.slice_bits <= 8 or self.weight_slices * self.slice_bits > 24:
            raise ConfigError("need weight_slices >= 1 and 1 <= slice_bits <= 8 (at most 24 bits in all)")
        if self.weight_scale not in ("column", "tile"):
            raise ConfigError(f"weight_scale must be 'column' or 'tile', got {self.weight_scale!r}")
        if self.group_mapping not in ("block", "per_group"):
            raise ConfigError(f"group_mapping must be 'block' or 'per_group', got {self.group_mapping!r}")


@dataclass(frozen=True)
class CrossbarConfig:
    """A complete analog tile: devices, converters, tiling, wires, and drift compensation."""

    name: str = "ideal"
    device: DeviceConfig = IDEAL_DEVICE
    dac: DACConfig = field(default_factory=DACConfig)
    adc: ADCConfig = field(default_factory=lambda: ADCConfig(bits=None, clip=False))
    tile: TileConfig = field(default_factory=TileConfig)
    ir_drop: IRDropConfig = field(default_factory=IRDropConfig)
    drift_compensation: str = "none"
    """Drift compensation read-out (`periphery.py`): "none", "all_ones" (sum of |column sums| of an all-ones
    read, edgeq's original), "mean_abs" (mean |W| of one-hot reads, noise-free), "mean_abs_noisy" (the same
    through read noise and the ADC, as aihwkit's GlobalDriftCompensation), "per_column". Each tile is read right
    after programming and at time t, and its output scaled by the ratio. True/False mean "all_ones"/"none"."""
    calibration: PeripheryCalibration = field(default_factory=PeripheryCalibration)
    """Periphery calibrated from calibration inputs after programming: DAC input ranges, per-column ADC ranges,
    per-column affine correction (`periphery.py`, with citations)."""
    batch_chunk: int = 4096
    """Samples processed at once; bounds the temporary memory of an MVM at about 4 * chunk * (in + 3 out) bytes."""

    def __post_init__(self) -> None:
        mode = self.drift_compensation
        if isinstance(mode, bool):  # the original on/off flag
            object.__setattr__(self, "drift_compensation", "all_ones" if mode else "none")
        elif mode not in DRIFT_COMPENSATIONS:
            raise ConfigError(f"drift_compensation must be one of {', '.join(DRIFT_COMPENSATIONS)}, got {mode!r}")

    def with_ir_drop(self, wire_ohm: float) -> CrossbarConfig:
        """Return a copy with word- and bit-line segments of wire_ohm ohm (0 = ideal wires)."""
        return dataclasses.replace(self, ir_drop=IRDropConfig(wire_ohm, wire_ohm))

    def describe(self) -> dict:
        """Return the config as a JSON-ready nested dict."""
        return dataclasses.asdict(self)


_ADC8 = ADCConfig(bits=8, full_scale=12.0)
_DAC8 = DACConfig(bits=8)
_CALIBRATED = PeripheryCalibration(input_ranges=True, adc_ranges=True, affine=True)

PRESETS: dict[str, CrossbarConfig] = {
    "ideal": CrossbarConfig(name="ideal"),
    "ideal_adc8": CrossbarConfig(name="ideal_adc8", dac=_DAC8, adc=_ADC8),
    "rram": CrossbarConfig(name="rram", device=RRAM_DEVICE, dac=_DAC8, adc=_ADC8),
    "pcm": CrossbarConfig(name="pcm", device=PCM_DEVICE, dac=_DAC8, adc=_ADC8, drift_compensation="all_ones"),
    "rram_cal": CrossbarConfig(name="rram_cal", device=RRAM_DEVICE, dac=_DAC8, adc=_ADC8,
                               drift_compensation="mean_abs", calibration=_CALIBRATED),
    "pcm_cal": CrossbarConfig(name="pcm_cal", device=PCM_DEVICE, dac=_DAC8, adc=_ADC8,
                              drift_compensation="mean_abs", calibration=_CALIBRATED),
}
"""ideal: exact x @ W (no device effects, ideal converters). ideal_adc8: ideal devices, 8-bit DAC and ADC.
rram: NeuRRAM-like RRAM (Wan et al. 2022) with 8-bit DAC/ADC. pcm: IBM's PCM model (Nandakumar et al. 2019) with
8-bit DAC/ADC and global drift compensation from an all-ones read. rram_cal / pcm_cal: the same devices and
converters with the periphery calibrated as on chips (per-layer DAC input ranges, per-column ADC ranges,
per-column affine correction, drift compensation from one-hot mean |W| reads; citations in `periphery.py`)."""


def list_presets() -> list[str]:
    """Return the preset names."""
    return list(PRESETS)


def get_preset(name: str) -> CrossbarConfig:
    """Return the named preset (frozen; derive variants with dataclasses.replace)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown crossbar preset {name!r}; choose one of {', '.join(PRESETS)}") from None
