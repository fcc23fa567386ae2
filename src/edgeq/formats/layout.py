"""Reshape a tensor and its scales into (rows, cols) with one scale per row, and back.

Per tensor: one row. Per channel along `axis`: one row per channel. Per block of `block_size` along `axis`: one
row per block (the axis is padded with zeros to a whole number of blocks). The same steps serve NumPy arrays and
torch tensors, so both paths round exactly the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RowLayout:
    """How a tensor of `shape` was turned into rows that each share one scale."""

    shape: tuple[int, ...]
    axis: int | None
    block_size: int | None

    @property
    def scale_shape(self) -> tuple[int, ...]:
        """Shape that a scale (or zero point) array must have for this layout."""
        if self.axis is None:
            return ()
        if self.block_size is None:
            return (self.shape[self.axis],)
        blocks = math.ceil(self.shape[self.axis] / self.block_size)
        return self.shape[: self.axis] + (blocks,) + self.shape[self.axis + 1 :]

    @property
    def padded(self) -> int:
        """Zeros appended along the axis to complete the last block."""
        if self.block_size is None:
            return 0
        n = self.shape[self.axis]
        return math.ceil(n / self.block_size) * self.block_size - n


def make_layout(shape: tuple[int, ...], axis: int | None, block_size: int | None) -> RowLayout:
    """Return the row layout for a tensor of `shape`, checking axis and block size."""
    if block_size is not None and block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size}")
    if axis is None:
        if block_size is not None:
            raise ValueError("block_size needs an axis to split into blocks")
        return RowLayout(tuple(shape), None, None)
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for a tensor of rank {len(shape)}")
    return RowLayout(tuple(shape), axis % len(shape), block_size)


def to_rows(x, layout: RowLayout, xp):
    """Return x as a C-contiguous (rows, cols) array; `xp` is the numpy or torch namespace adapter."""
    if layout.axis is None:
        return xp.reshape(x, (1, -1))
    if layout.block_size is None:
        moved = xp.moveaxis(x, layout.axis, 0)
        return xp.reshape(moved, (layout.shape[layout.axis], -1))
    moved = xp.moveaxis(x, layout.axis, -1)
    if layout.padded:
        moved = xp.pad_last(moved, layout.padded)
    return xp.reshape(moved, (-1, layout.block_size))


def from_rows(rows, layout: RowLayout, xp):
    """Invert `to_rows`."""
    if layout.axis is None:
        return xp.reshape(rows, layout.shape)
    if layout.block_size is None:
        moved_shape = (layout.shape[layout.axis],) + tuple(np.delete(layout.shape, layout.axis))
        return xp.moveaxis(xp.reshape(rows, moved_shape), 0, layout.axis)
    rest = tuple(np.delete(layout.shape, layout.axis))
    n = layout.shape[layout.axis]
    moved = xp.reshape(rows, rest + (n + layout.padded,))[..., :n]
    return xp.moveaxis(moved, -1, layout.axis)


def scale_rows(scale, layout: RowLayout, xp):
    """Return the scale (scalar or array of `layout.scale_shape`) as one value per row."""
    expected = layout.scale_shape
    scale = xp.asarray_f32(scale)
    if tuple(scale.shape) == ():
        rows = 1 if layout.axis is None else math.prod(layout.scale_shape)
        return xp.reshape(scale, (1,)).repeat(rows) if rows > 1 else xp.reshape(scale, (1,))
    if tuple(scale.shape) != expected:
        raise ValueError(f"scale has shape {tuple(scale.shape)}, expected {expected} for this axis/block_size")
    if layout.block_size is None:
        return xp.reshape(scale, (-1,))
    return xp.reshape(xp.moveaxis(scale, layout.axis, -1), (-1,))


class NumpyOps:
    """Array operations `to_rows`/`from_rows` need, for NumPy."""

    reshape = staticmethod(lambda a, s: np.ascontiguousarray(a).reshape(s))
    moveaxis = staticmethod(np.moveaxis)

    @staticmethod
    def pad_last(a, n):
        return np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, n)])

    @staticmethod
    def asarray_f32(a):
        return np.asarray(a, dtype=np.float32)


class TorchOps:
    """Array operations `to_rows`/`from_rows` need, for torch."""

    def __init__(self, like):
        self.like = like

    @staticmethod
    def reshape(a, s):
        return a.contiguous().reshape(s)

    @staticmethod
    def moveaxis(a, src, dst):
        return a.movedim(src, dst)

    @staticmethod
    def pad_last(a, n):
        import torch.nn.functional as F

        return F.pad(a, (0, n))

    def asarray_f32(self, a):
        import torch

        if isinstance(a, torch.Tensor):
            return a.to(device=self.like.device, dtype=torch.float32)
        return torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.like.device)
