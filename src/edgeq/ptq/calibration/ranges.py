"""Choose a quantization range from an observer: minmax, percentile, MSE or entropy, for any target format.

Every method picks a clipping threshold t on |x|; the range is then [max(min, -t), min(max, t)]. MSE and entropy
score each candidate t with the actual quantizer of the target format (edgeq.formats) applied to the histogram's
bin centres, so the same code serves int8, FP8 and any minifloat.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config import CalibMethod
from .observers import HistogramObserver, MinMaxObserver

# candidate clipping thresholds as fractions of the observed |x| max
_CANDIDATES = np.unique(np.concatenate([np.geomspace(1 / 256, 0.25, 24), np.linspace(0.25, 1.0, 64)]))

_KL_MIN_BINS = 128

Quantizer = Callable[[float, float, np.ndarray], np.ndarray]  # (lo, hi, values) -> fake-quantized values


def choose_range(obs: MinMaxObserver, method: CalibMethod, quantizer: Quantizer) -> tuple[float, float]:
    """Return (lo, hi) for the observer's data under `method`; `quantizer` quantizes values for a given range."""
    lo, hi = obs.range()
    if method.name == "minmax" or not isinstance(obs, HistogramObserver) or obs.count == 0:
        return lo, hi
    amax = max(abs(lo), abs(hi))
    if amax == 0.0:
        return lo, hi
    if method.name == "percentile":
        t = _percentile(obs, method.percentile)
    elif method.name == "mse":
        t = _best(obs, amax, quantizer, _mse)
    else:
        # as TensorRT: a threshold must span at least 128 histogram bins, else a clipped P and Q that both sit in
        # a handful of bins (e.g. an image whose pixels are mostly 0) trivially agree
        t = _best(obs, amax, quantizer, _kl, min_t=obs.limit * _KL_MIN_BINS / obs.bins)
    return max(lo, -t), min(hi, t)


def _percentile(obs: HistogramObserver, p: float) -> float:
    counts = obs.abs_counts()
    cdf = np.cumsum(counts) / counts.sum()
    k = int(np.searchsorted(cdf, p / 100.0))
    return min((k + 1) * obs.limit / obs.bins, max(abs(obs.lo), abs(obs.hi)))


def _signed_bins(obs: HistogramObserver) -> tuple[np.ndarray, np.ndarray]:
    c = obs.centers()
    values = np.concatenate([-c[::-1], c]).astype(np.float32)
    counts = np.concatenate([obs.neg[::-1], obs.pos]).astype(np.float64)
    keep = counts > 0
    return values[keep], counts[keep]


def _best(obs: HistogramObserver, amax: float, quantizer: Quantizer, score, min_t: float = 0.0) -> float:
    values, counts = _signed_bins(obs)
    lo, hi = obs.range()
    best_t, best_s = amax, np.inf
    for frac in _CANDIDATES:
        t = float(amax * frac)
        if t < min_t:
            continue
        s = score(values, counts, max(lo, -t), min(hi, t), quantizer)
        if s < best_s:
            best_t, best_s = t, s
    return best_t


def _mse(values, counts, lo, hi, quantizer) -> float:
    """Expected squared error of quantizing the histogram with range [lo, hi] (clipping included)."""
    d = quantizer(lo, hi, values).astype(np.float64) - values
    return float(np.sum(counts * d * d))


def _kl(values, counts, lo, hi, quantizer) -> float:
    """TensorRT's criterion: KL(P || Q), P the histogram inside [lo, hi] with the clipped mass folded into the edge
    bins, Q the inside histogram without that mass, flattened within each quantization level."""
    inside = (values >= lo) & (values <= hi)
    if not inside.any():
        return np.inf
    v, c = values[inside], counts[inside]
    p = c.copy()
    p[np.argmax(v)] += counts[values > hi].sum()
    p[np.argmin(v)] += counts[values < lo].sum()
    _, level, sizes = np.unique(quantizer(lo, hi, v), return_inverse=True, return_counts=True)
    q = np.bincount(level, weights=c)[level] / sizes[level]
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / np.maximum(q, 1e-12))))
