"""Scale granularity as types (per tensor, per output channel, per block) and `choose_scale`, shared by PTQ and QAT.

Parsing lives here too, so `--granularity`, a QuantConfig dict and a QAT config read the same words the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

import numpy as np

from ..errors import ConfigError
from .ops import scale_for_range
from .registry import get_format
from .spec import Format


@dataclass(frozen=True)
class PerTensor:
    """One scale for the whole tensor."""

    def describe(self) -> str:
        """Return the granularity's CLI spelling."""
        return "tensor"


@dataclass(frozen=True)
class PerChannel:
    """One scale per output channel (the axis comes from the op: `edgeq.graph.ops.weight_role`)."""

    def describe(self) -> str:
        """Return the granularity's CLI spelling."""
        return "channel"


@dataclass(frozen=True)
class PerBlock:
    """One scale per block of `size` consecutive weights along the input-channel axis (opset 21 block QDQ)."""

    size: int

    def __post_init__(self) -> None:
        if self.size < 2:
            raise ConfigError(f"block size must be >= 2, got {self.size}")

    def describe(self) -> str:
        """Return the granularity's CLI spelling."""
        return f"block:{self.size}"


Granularity = Union[PerTensor, PerChannel, PerBlock]


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
    raise ConfigError(f"unknown granularity {value!r}; use tensor, channel or block:N (N >= 2, e.g. block:32)")


def parse_format(value: str | Format) -> Format:
    """Return the format for a registry name or generic minifloat name; unknown names raise ConfigError."""
    try:
        return get_format(value)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def block_amax(w: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Return max |w| per block of `size` along `axis` (the last block may be short), shaped like w with that axis cut."""
    moved = np.moveaxis(np.abs(w), axis, -1)
    n = moved.shape[-1]
    nb = -(-n // size)
    padded = np.zeros(moved.shape[:-1] + (nb * size,), dtype=np.float32)
    padded[..., :n] = moved
    return np.moveaxis(padded.reshape(moved.shape[:-1] + (nb, size)).max(axis=-1), -1, axis)


def choose_scale(w: np.ndarray, fmt: str | Format, axis: int | None = None, block_size: int | None = None) -> np.ndarray:
    """Return the symmetric max-|w| scale of `w` in `fmt`: per tensor (axis None), per channel along `axis`, or per
    block of `block_size` along `axis`."""
    fmt = get_format(fmt)
    if axis is None:
        return scale_for_range(np.float32(np.abs(w).max(initial=0.0)), fmt).reshape(())
    if block_size is not None:
        return scale_for_range(block_amax(w, axis, block_size), fmt)
    amax = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1, initial=0.0)
    return scale_for_range(amax, fmt)
