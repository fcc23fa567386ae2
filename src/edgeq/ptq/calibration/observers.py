"""Streaming observers: running min/max and a fixed-size histogram of |x| whose range grows by doubling.

Memory is constant in the number of calibration samples: the histogram keeps `bins` counts for positive and for
negative values over [0, R). When a batch exceeds R, R doubles (as often as needed) and adjacent bin pairs merge,
which is exact: no sample is ever re-binned from an approximation. (onnxruntime's percentile calibrator keeps
every activation value instead.)
"""

from __future__ import annotations

import numpy as np

DEFAULT_BINS = 2048


class MinMaxObserver:
    """Keeps the smallest and largest value seen."""

    def __init__(self) -> None:
        self.lo = np.inf
        self.hi = -np.inf
        self.count = 0
        self.nonfinite = 0

    def finite(self, x: np.ndarray) -> np.ndarray:
        """Return x without NaN/inf (e.g. Log(0) = -inf in audio front-ends), counting what was dropped."""
        if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
            keep = np.isfinite(x)
            self.nonfinite += int(x.size - keep.sum())
            return x[keep]
        return x

    def update(self, x: np.ndarray) -> None:
        """Fold one batch of finite values into the running extremes."""
        x = self.finite(np.asarray(x))
        if x.size:
            self.lo = min(self.lo, float(x.min()))
            self.hi = max(self.hi, float(x.max()))
            self.count += x.size

    def range(self) -> tuple[float, float]:
        """Return (min, max) seen, (0, 0) before any data."""
        return (self.lo, self.hi) if self.count else (0.0, 0.0)


class HistogramObserver(MinMaxObserver):
    """Min/max plus histograms of |x| for positive and negative values over a power-of-two range [0, R)."""

    def __init__(self, bins: int = DEFAULT_BINS) -> None:
        super().__init__()
        if bins & (bins - 1):
            raise ValueError("bins must be a power of two (the range grows by doubling)")
        self.bins = bins
        self.limit = 0.0
        self.pos = np.zeros(bins, dtype=np.int64)
        self.neg = np.zeros(bins, dtype=np.int64)

    def update(self, x: np.ndarray) -> None:
        """Fold one batch into the histograms, doubling the range first if the batch exceeds it."""
        x = self.finite(np.asarray(x, dtype=np.float32).reshape(-1))
        if not x.size:
            return
        MinMaxObserver.update(self, x)
        amax = float(np.abs(x).max())
        if amax >= self.limit:
            self._grow(amax)
        width = self.limit / self.bins
        idx = np.minimum((np.abs(x) / width).astype(np.int64), self.bins - 1)
        negative = x < 0
        self.pos += np.bincount(idx[~negative], minlength=self.bins)
        self.neg += np.bincount(idx[negative], minlength=self.bins)

    def _grow(self, amax: float) -> None:
        if self.limit == 0.0:
            self.limit = float(2.0 ** np.ceil(np.log2(max(amax, 1e-30)) + 1e-9))
            if self.limit <= amax:
                self.limit *= 2.0
            return
        factor = 1
        while self.limit * factor <= amax:
            factor *= 2
        self.limit *= factor
        for name in ("pos", "neg"):
            counts = getattr(self, name)
            merged = counts.reshape(-1, min(factor, self.bins)).sum(axis=1)
            setattr(self, name, np.concatenate([merged, np.zeros(self.bins - merged.size, dtype=np.int64)]))

    def centers(self) -> np.ndarray:
        """Return the centre of each |x| bin."""
        width = self.limit / self.bins
        return (np.arange(self.bins) + 0.5) * width

    def abs_counts(self) -> np.ndarray:
        """Return the histogram of |x| (positive and negative together)."""
        return self.pos + self.neg
