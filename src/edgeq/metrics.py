"""Error metrics used across edgeq (one place, so every report computes them the same way)."""

from __future__ import annotations

import numpy as np


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    """Return the signal-to-quantization-noise ratio 10 log10(sum ref^2 / sum (ref - approx)^2) in dB (inf if equal)."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(approx, dtype=np.float64)
    noise = float(np.sum(err * err))
    signal = float(np.sum(ref * ref))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


def top1_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Return the fraction of rows whose argmax equals the label."""
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))


def top1_agreement(logits_a: np.ndarray, logits_b: np.ndarray) -> float:
    """Return the fraction of rows where two models pick the same class."""
    return float(np.mean(np.argmax(logits_a, axis=-1) == np.argmax(logits_b, axis=-1)))
