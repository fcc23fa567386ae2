"""What to quantize and how: one frozen `QuantConfig` with parsed formats, typed granularity, a calibration method
and named presets; it round-trips through a versioned dict so reports, the gate and the sweep embed it.

A `QuantConfig` is everything `edgeq.quantize` needs besides the model and data. The CLI, the Python API, the gate
and the sweep all build one (`QuantConfig.from_options` or `QuantConfig.from_dict`), so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from ..errors import ConfigError
from ..formats import BlockFormat, Format, parse_format, parse_granularity
from ..formats.granularity import Granularity, PerBlock, PerChannel, PerTensor
from .targets import DEFAULT_TARGET, check_formats, kernel_safe_default, parse_target, target_formats

CONFIG_VERSION = 1


@dataclass(frozen=True)
class FloatActivations:
    """`--acts float`: activations stay in float; only weights are quantized (weight-only, e.g. MatMulNBits)."""

    name: str = "float"


FLOAT_ACTS = FloatActivations()


@dataclass(frozen=True)
class CalibMethod:
    """How an activation range is chosen from its streamed statistics.

    `minmax`: the observed extremes. `percentile`: the `percentile`-th percentile of |x| (of the tails for
    asymmetric ranges). `mse`: the clipping range minimising the expected squared quantization error of the
    target format over the histogram. `entropy`: the range minimising KL(P || Q) between the clipped histogram
    and its quantized version (TensorRT's method, generalised to any format).
    """

    name: str = "minmax"
    percentile: float = 99.99

    def describe(self) -> str:
        """Return the method's CLI spelling."""
        return f"percentile:{self.percentile:g}" if self.name == "percentile" else self.name


CALIB_METHODS = ("minmax", "percentile", "mse", "entropy")


@dataclass(frozen=True)
class QuantConfig:
    """Everything that decides the numerics of a PTQ run.

    Attributes:
        weights: weight format (any registry format, e.g. int8, int4, fp8_e4m3, mxfp4); strings are parsed.
        acts: activation format (inputs of the quantized ops); never a block (MX) format.
        granularity: weight scale granularity; activations are always per tensor.
        calib_method: how activation ranges are chosen.
        exclude: node names or op types left in float.
        overrides: node name -> weight format name (or "float"), per-layer precision (mixed precision uses it).
        kernel_safe_int8: with 8-bit integer weights and activations, keep weights in [-64, 63] so the u8 x s8
            kernels of x86 CPUs without VNNI (16-bit saturating pair sums) compute the exact result; costs about
            one bit of weight precision (measured in benchmarks/bench_quantize.py). None: the target decides
            (ort-cpu: only where this CPU lacks VNNI/AMX; generic: always; tensorrt, qnn: never).
        amplifier_guard: keep in float an op when quantizing it alone costs the output far more than its own
            quantizers inject (the graph amplifies their noise: a first conv over features with a large DC offset,
            a filterbank before a Log); stems always, every op when the model is small; the report says which.
        target: the runtime the model is for: "ort-cpu", "tensorrt", "qnn" or "generic" (`edgeq.ptq.targets`).
        seed: seeds every random choice (random calibration data, subsampling).
        max_drop: mixed precision: largest accuracy drop (percentage points) to accept.
        min_sqnr: mixed precision: smallest output SQNR (dB) to accept.
    """

    weights: Format = "int8"  # type: ignore[assignment]  # parsed in __post_init__
    acts: Format = "uint8"  # type: ignore[assignment]
    granularity: Granularity = PerChannel()
    calib_method: CalibMethod = CalibMethod()
    exclude: tuple[str, ...] = ()
    overrides: Mapping[str, str] = field(default_factory=dict)
    kernel_safe_int8: bool | None = None
    amplifier_guard: bool = True
    seed: int = 0
    max_drop: float | None = None
    min_sqnr: float | None = None
    target: str = DEFAULT_TARGET

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "target", parse_target(self.target))
        if self.kernel_safe_int8 is None:
            set_(self, "kernel_safe_int8", kernel_safe_default(self.target))
        set_(self, "weights", parse_format(self.weights))
        is_float = str(getattr(self.acts, "name", self.acts)).strip().lower() == "float"
        set_(self, "acts", FLOAT_ACTS if is_float else parse_format(self.acts))
        set_(self, "granularity", parse_granularity(self.granularity))
        set_(self, "calib_method", parse_calib_method(self.calib_method))
        set_(self, "exclude", tuple(self.exclude))
        set_(self, "overrides", dict(self.overrides))
        for name in self.overrides.values():
            if name != "float":
                parse_format(name)
        if isinstance(self.acts, BlockFormat):
            raise ConfigError(
                f"activations in block format {self.acts.name} are not supported (their block scales are computed "
                "at run time); pass --acts int8 or an fp8 format with the MX weights"
            )
        check_formats(self.target, self.weights, self.acts)
        for name in self.overrides.values():
            check_formats(self.target, parse_format(name) if name != "float" else self.weights, self.acts)
        if self.max_drop is not None and not self.max_drop >= 0:
            raise ConfigError(f"max_drop must be >= 0 percentage points, got {self.max_drop}")

    @classmethod
    def from_options(
        cls,
        fmt: str = "int8",
        *,
        weights: str | None = None,
        acts: str | None = None,
        granularity: str | Granularity = "channel",
        calib_method: str | CalibMethod = "minmax",
        exclude=(),
        overrides: Mapping[str, str] | None = None,
        seed: int = 0,
        max_drop: float | None = None,
        min_sqnr: float | None = None,
        kernel_safe_int8: bool | None = None,
        amplifier_guard: bool = True,
        target: str = DEFAULT_TARGET,
    ) -> QuantConfig:
        """Return the config for a preset `fmt` with optional explicit weight/activation formats (CLI names)."""
        target = parse_target(target)
        w_default, a_default = target_formats(target, fmt) or preset_formats(fmt)
        return cls(
            weights=weights or w_default, acts=acts or a_default, granularity=granularity,
            calib_method=calib_method, exclude=tuple(exclude), overrides=dict(overrides or {}), seed=int(seed),
            max_drop=max_drop, min_sqnr=min_sqnr, kernel_safe_int8=kernel_safe_int8, amplifier_guard=amplifier_guard,
            target=target,
        )

    @property
    def weight_only(self) -> bool:
        """True when activations stay in float (`--acts float`)."""
        return self.acts == FLOAT_ACTS

    def to_dict(self) -> dict:
        """Return the config as a JSON-ready dict with its schema version (inverse of `from_dict`)."""
        return {
            "version": CONFIG_VERSION, "weights": self.weights.name, "acts": self.acts.name,
            "granularity": self.granularity.describe(), "calib_method": self.calib_method.describe(),
            "exclude": list(self.exclude), "overrides": dict(self.overrides),
            "kernel_safe_int8": self.kernel_safe_int8, "amplifier_guard": self.amplifier_guard, "seed": self.seed,
            "max_drop": self.max_drop, "min_sqnr": self.min_sqnr, "target": self.target,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> QuantConfig:
        """Return the config a dict describes: `to_dict` output, or any subset plus an optional preset `fmt`."""
        data = dict(data)
        version = data.pop("version", CONFIG_VERSION)
        if version != CONFIG_VERSION:
            raise ConfigError(f"quantize config version {version} is not supported (this edgeq reads {CONFIG_VERSION})")
        known = {f.name for f in fields(cls)} | {"fmt"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown quantize option(s) {unknown}; known: {sorted(known)}")
        return cls.from_options(data.pop("fmt", "int8"), **data)


def as_config(config: QuantConfig | str | Mapping) -> QuantConfig:
    """Return a QuantConfig from a config, a preset/format name or a dict (validated in one place)."""
    if isinstance(config, QuantConfig):
        return config
    if isinstance(config, str):
        return QuantConfig.from_options(config)
    if isinstance(config, Mapping):
        return QuantConfig.from_dict(config)
    raise ConfigError(f"config must be a QuantConfig, a format name or a dict, not {type(config).__name__}")


def preset_formats(fmt: str) -> tuple[str, str]:
    """Return (weight format, activation format) for a preset name or any single registry format.

    int8: int8 weights, uint8 asymmetric activations. int4 / w4a8: int4 weights, uint8 activations. An MX
    format quantizes weights only and pairs them with fp8_e4m3 activations. Any other format is used for both.
    """
    key = str(fmt).strip().lower()
    if key in ("int8", "w8a8"):
        return "int8", "uint8"
    if key in ("int4", "w4a8"):
        return "int4", "uint8"
    if key in ("w8a16",):
        return "int8", "uint16"
    f = parse_format(key)
    if isinstance(f, BlockFormat):
        return f.name, "fp8_e4m3"
    return f.name, f.name


def parse_calib_method(value: str | CalibMethod) -> CalibMethod:
    """Return the calibration method for "minmax", "percentile[:P]", "mse" or "entropy"."""
    if isinstance(value, CalibMethod):
        return value
    key = str(value).strip().lower()
    name, _, arg = key.partition(":")
    if name not in CALIB_METHODS or (arg and name != "percentile"):
        raise ConfigError(f"unknown calibration method {value!r}; use minmax, percentile:99.99, mse or entropy")
    if name == "percentile" and arg:
        try:
            p = float(arg)
        except ValueError:
            p = -1.0
        if not 50.0 < p <= 100.0:
            raise ConfigError(f"percentile must be a number in (50, 100], got {arg!r}")
        return CalibMethod("percentile", p)
    return CalibMethod(name)


__all__ = [
    "CALIB_METHODS", "CONFIG_VERSION", "FLOAT_ACTS", "CalibMethod", "FloatActivations", "Granularity", "PerBlock", "PerChannel", "PerTensor",
    "QuantConfig", "as_config", "parse_calib_method", "parse_granularity", "preset_formats",
]
