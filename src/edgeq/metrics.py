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


# Task metrics of an approximate model against its FP32 reference, for outputs without labels: each compares what
# the task keeps of the output (the class, the direction of an embedding, the text mask, the confident detections,
# the decoded string), so a reader sees what an SQNR means for the task.


def cosine_similarity(reference: np.ndarray, approx: np.ndarray) -> float:
    """Return the mean cosine similarity of the rows (first axis) of two embeddings."""
    a = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    b = np.asarray(approx, dtype=np.float64).reshape(len(approx), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(np.sum(a * b, axis=1) / np.where(norms > 0, norms, 1.0)))


def mask_iou(reference: np.ndarray, approx: np.ndarray, threshold: float) -> float:
    """Return the intersection over union of the two maps' > threshold masks (1 when both are empty)."""
    a, b = np.asarray(reference) > threshold, np.asarray(approx) > threshold
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def ctc_greedy_decode(scores: np.ndarray, blank: int = 0) -> list[tuple[int, ...]]:
    """Return the greedy CTC decoding of (N, T, C) scores per row: argmax per step, repeats merged, blanks dropped."""
    best = np.argmax(np.asarray(scores), axis=-1)
    keep = np.ones(best.shape, dtype=bool)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]
    keep &= best != blank
    return [tuple(row[mask].tolist()) for row, mask in zip(best, keep)]


def ctc_exact_match(reference: np.ndarray, approx: np.ndarray, blank: int = 0) -> float:
    """Return the fraction of rows of (N, T, C) scores whose greedy CTC decodings are the same string."""
    a, b = ctc_greedy_decode(reference, blank), ctc_greedy_decode(approx, blank)
    return float(np.mean([x == y for x, y in zip(a, b)]))


def ratio_db(signal: float, noise: float) -> float:
    """Return 10 log10(signal / noise) in dB: inf when noise is 0, -inf when the signal is 0 (and noise is not)."""
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(signal / noise))


class StreamingComparison:
    """SQNR, max error and top-1 agreement of an approximation against a reference, accumulated feed by feed.

    Nothing is concatenated, so any output layout works (time-major [T, N, C] as well as [N, C]); agreement
    compares argmax over the last axis of rank-2 and rank-3 outputs (classes, per-step classes) and is None for
    others (a segmentation map's last axis is its width) and when the last axis has a single entry.
    """

    def __init__(self) -> None:
        self.signal = 0.0
        self.noise = 0.0
        self.max_abs = 0.0
        self.agree = 0
        self.rows = 0

    def update(self, reference: np.ndarray, approx: np.ndarray) -> None:
        """Add one feed's reference and approximate values (same shape)."""
        ref = np.asarray(reference, dtype=np.float64)
        err = ref - np.asarray(approx, dtype=np.float64)
        self.signal += float(np.sum(ref * ref))
        self.noise += float(np.sum(err * err))
        if err.size:
            self.max_abs = max(self.max_abs, float(np.max(np.abs(err))))
        if ref.ndim in (2, 3) and ref.shape[-1] > 1:
            self.agree += int(np.sum(np.argmax(ref, axis=-1) == np.argmax(approx, axis=-1)))
            self.rows += int(ref.size // ref.shape[-1])

    @property
    def sqnr_db(self) -> float:
        """Return the accumulated SQNR in dB."""
        return ratio_db(self.signal, self.noise)

    @property
    def agreement(self) -> float | None:
        """Return the fraction of rows with the same argmax, None when no row has more than one entry."""
        return self.agree / self.rows if self.rows else None
