"""A convolution's input as crossbar rows without writing the im2col matrix.

Row b of the im2col matrix (one output pixel's receptive field, in Conv weight order: channel, then kernel row,
then kernel column) is flat[bases[b] + offsets] of the zero-padded input. The crossbar's DAC kernel gathers each
row tile's part of that row straight into its encoded block, so the patches, which are kh*kw times the size of the
input, never exist in memory: on a detector that removes about a third of the simulated run's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .kernels import patch_encode_nb

__all__ = ["Patches", "conv_patches"]


@dataclass(frozen=True)
class Patches:
    """The (rows, features) im2col matrix of a convolution, held as its padded input and two index vectors."""

    flat: np.ndarray
    """The zero-padded input, float32, flattened."""
    bases: np.ndarray
    """(rows,) int64: where each output pixel's receptive field starts in flat."""
    offsets: np.ndarray
    """(features,) int64: where each weight row's input sits relative to the base."""

    @property
    def shape(self) -> tuple[int, int]:
        return (self.bases.shape[0], self.offsets.shape[0])

    def rows(self, lo: int, hi: int) -> Patches:
        """Return the patches of output pixels [lo, hi)."""
        return Patches(self.flat, self.bases[lo:hi], self.offsets)

    def take(self, rows: np.ndarray) -> Patches:
        """Return the patches of the given output pixels."""
        return Patches(self.flat, self.bases[rows], self.offsets)

    def columns(self, lo: int, hi: int) -> Patches:
        """Return the patches restricted to weight rows [lo, hi) (one block of a grouped convolution)."""
        return Patches(self.flat, self.bases, self.offsets[lo:hi])

    def repeated(self, times: int) -> Patches:
        """Return the patches with their features repeated `times` times (every weight slice reads the input)."""
        return Patches(self.flat, self.bases, np.tile(self.offsets, times))

    def dense(self) -> np.ndarray:
        """Return the (rows, features) float32 im2col matrix itself."""
        return self.flat[self.bases[:, None] + self.offsets[None, :]]

    def encode(self, lo: int, hi: int, k: int, fixed_range: float, xn, scale, sumsq, need_sumsq: bool) -> None:
        """DAC-encode features [lo, hi) of every row into xn (see `kernels.dac_encode_nb`)."""
        patch_encode_nb(self.flat, self.bases, self.offsets[lo:hi], k, fixed_range, xn, scale, sumsq, need_sumsq)


def conv_patches(x: np.ndarray, kernel, pads, strides, dil) -> tuple[Patches, int, int]:
    """Return the patches of a 2-D convolution of x (N, C, H, W) in Conv weight order, and Ho, Wo."""
    x = np.asarray(x, dtype=np.float32)
    if any(pads):  # zeros and one copy: np.pad's generic path costs more than the copy on small feature maps
        n, c, h, w = x.shape
        xp = np.zeros((n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), dtype=np.float32)
        xp[:, :, pads[0] : pads[0] + h, pads[1] : pads[1] + w] = x
    else:
        xp = np.ascontiguousarray(x)
    bases, offsets, ho, wo = _indices(xp.shape, tuple(kernel), tuple(strides), tuple(dil))
    return Patches(xp.ravel(), bases, offsets), ho, wo


@lru_cache(maxsize=512)
def _indices(padded_shape: tuple, kernel: tuple, strides: tuple, dil: tuple) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Return (bases, offsets, Ho, Wo) of a convolution over a padded input (the same for every run: cached)."""
    n, c, hp, wp = padded_shape
    kh, kw = kernel
    ho = (hp - dil[0] * (kh - 1) - 1) // strides[0] + 1
    wo = (wp - dil[1] * (kw - 1) - 1) // strides[1] + 1
    cc, ii, jj = np.meshgrid(np.arange(c), np.arange(kh) * dil[0], np.arange(kw) * dil[1], indexing="ij")
    offsets = (cc * (hp * wp) + ii * wp + jj).ravel().astype(np.int64)
    nn, yy, xx = np.meshgrid(np.arange(n), np.arange(ho) * strides[0], np.arange(wo) * strides[1], indexing="ij")
    bases = (nn * (c * hp * wp) + yy * wp + xx).ravel().astype(np.int64)
    offsets.flags.writeable = bases.flags.writeable = False  # shared by every call with this geometry
    return bases, offsets, ho, wo
