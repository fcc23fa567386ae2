"""What to quantize and how: frozen config dataclasses, typed granularity, calibration methods and named presets.

A `QuantConfig` is everything `edgeq.quantize` needs besides the model and data; the CLI and the Python API both
build one (`QuantConfig.from_options`), so they cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

from ..errors import UserError
from ..formats import BlockFormat, Format, get_format


@dataclass(frozen=True)
class PerTensor:
    """One scale for the whole tensor."""

    def describe(self) -> str:
        return "tensor"


@dataclass(frozen=True)
class PerChannel:
    """One scale per output channel (the axis is chosen per op: 0 for Conv/Gemm(transB), last for MatMul)."""

    def describe(self) -> str:
        return "channel"


@dataclass(frozen=True)
class PerBlock:
    """One scale per block of `size` consecutive weights along the input-channel axis (opset 21 block QDQ)."""

    size: int

    def __post_init__(self) -> None:
        if self.size < 2:
            raise ValueError(f"block size must be >= 2, got {self.size}")

    def describe(self) -> str:
        return f"block:{self.size}"


Granularity = Union[PerTensor, PerChannel, PerBlock]


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
        return f"percentile:{self.percentile:g}" if self.name == "percentile" else self.name


CALIB_METHODS = ("minmax", "percentile", "mse", "entropy")


@dataclass(frozen=True)
class QuantConfig:
    """Everything that decides the numerics of a PTQ run.

    Attributes:
        weights: format name of weights (any registry name, e.g. "int8", "int4", "fp8_e4m3", "mxfp4").
        acts: format name of activations (inputs of the quantized ops); never a block (MX) format.
        granularity: weight scale granularity; activations are always per tensor.
        calib_method: how activation ranges are chosen.
        exclude: node names or op types left in float.
        overrides: node name -> weight format (or "float"), per-layer precision (mixed precision uses it).
        kernel_safe_int8: with 8-bit integer weights and activations, keep weights in [-64, 63] so the u8 x s8
            kernels of x86 CPUs without VNNI (16-bit saturating pair sums) compute the exact result; costs about
            one bit of weight precision (measured in benchmarks/bench_quantize.py).
        seed: seeds every random choice (random calibration data, subsampling).
        max_drop: mixed precision: largest accuracy drop (percentage points) to accept.
        min_sqnr: mixed precision: smallest logit SQNR (dB) to accept.
    """

    weights: str = "int8"
    acts: str = "uint8"
    granularity: Granularity = PerChannel()
    calib_method: CalibMethod = CalibMethod()
    exclude: tuple[str, ...] = ()
    overrides: Mapping[str, str] = field(default_factory=dict)
    kernel_safe_int8: bool = True
    seed: int = 0
    max_drop: float | None = None
    min_sqnr: float | None = None

    def __post_init__(self) -> None:
        for name in (self.weights, self.acts, *(v for v in self.overrides.values() if v != "float")):
            _format_or_user_error(name)
        if isinstance(get_format(self.acts), BlockFormat):
            raise UserError(
                f"activations in block format {self.acts} are not supported (their block scales are computed at "
                "run time); pass --acts int8 or an fp8 format with the MX weights"
            )

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
        kernel_safe_int8: bool = True,
    ) -> QuantConfig:
        """Return the config for a preset `fmt` with optional explicit weight/activation formats (CLI names)."""
        w_default, a_default = preset_formats(fmt)
        return cls(
            weights=weights or w_default,
            acts=acts or a_default,
            granularity=parse_granularity(granularity),
            calib_method=parse_calib_method(calib_method),
            exclude=tuple(exclude),
            overrides=dict(overrides or {}),
            seed=int(seed),
            max_drop=max_drop,
            min_sqnr=min_sqnr,
            kernel_safe_int8=kernel_safe_int8,
        )


def _format_or_user_error(name: str) -> Format:
    try:
        return get_format(name)
    except ValueError as err:
        raise UserError(str(err)) from None


def preset_formats(fmt: str) -> tuple[str, str]:
    """Return (weight format, activation format) for a preset name or any single registry format.

    int8: int8 weights, uint8 asymmetric activations. int4 / w4a8: int4 weights, uint8 activations. An MX
    format quantizes weights only and pairs them with fp8_e4m3 activations. Any other format is used for both.
    """
    key = fmt.strip().lower()
    if key in ("int8", "w8a8"):
        return "int8", "uint8"
    if key in ("int4", "w4a8"):
        return "int4", "uint8"
    if key in ("w8a16",):
        return "int8", "uint16"
    f = _format_or_user_error(key)
    if isinstance(f, BlockFormat):
        return f.name, "fp8_e4m3"
    return f.name, f.name


def parse_granularity(value: str | Granularity) -> Granularity:
    """Return the granularity for "tensor", "channel" or "block:N"."""
    if isinstance(value, (PerTensor, PerChannel, PerBlock)):
        return value
    key = str(value).strip().lower()
    if key == "tensor":
        return PerTensor()
    if key == "channel":
        return PerChannel()
    match = re.fullmatch(r"block:(\d+)", key)
    if match and int(match.group(1)) >= 2:
        return PerBlock(int(match.group(1)))
    raise UserError(f"unknown granularity {value!r}; use tensor, channel or block:N (N >= 2, e.g. block:32)")


def parse_calib_method(value: str | CalibMethod) -> CalibMethod:
    """Return the calibration method for "minmax", "percentile[:P]", "mse" or "entropy"."""
    if isinstance(value, CalibMethod):
        return value
    key = str(value).strip().lower()
    name, _, arg = key.partition(":")
    if name not in CALIB_METHODS or (arg and name != "percentile"):
        raise UserError(f"unknown calibration method {value!r}; use minmax, percentile:99.99, mse or entropy")
    if name == "percentile" and arg:
        try:
            p = float(arg)
        except ValueError:
            p = -1.0
        if not 50.0 < p <= 100.0:
            raise UserError(f"percentile must be a number in (50, 100], got {arg!r}")
        return CalibMethod("percentile", p)
    return CalibMethod(name)
