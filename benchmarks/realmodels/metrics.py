"""Task metrics beside output SQNR: each compares a quantized model's outputs with the FP32 model's, feed by feed.

`outputs` arguments are lists (one per feed) of lists (one per model output) of arrays.
"""

from __future__ import annotations

import numpy as np


def sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """Return 10 log10(|ref|^2 / |ref - test|^2) in dB (inf when equal, nan when shapes differ or test not finite)."""
    ref = np.asarray(ref, np.float64).ravel()
    test = np.asarray(test, np.float64).ravel()
    if ref.shape != test.shape or not np.all(np.isfinite(test)):
        return float("nan")
    noise = np.sum((ref - test) ** 2)
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(np.sum(ref**2) / noise)) if np.sum(ref**2) > 0 else float("-inf")


def output_sqnr(ref: list, test: list, index: int = 0) -> float:
    """Return the SQNR of output `index` over all feeds (concatenated)."""
    return sqnr_db(np.concatenate([r[index].ravel() for r in ref]), np.concatenate([t[index].ravel() for t in test]))


def per_output_sqnr(ref: list, test: list) -> list[float]:
    """Return one SQNR per model output, each over all feeds."""
    return [output_sqnr(ref, test, i) for i in range(len(ref[0]))]


def ctc_decode(probs: np.ndarray, time_major: bool = False) -> list[int]:
    """Greedy CTC: argmax per step, collapse repeats, drop blank 0; probs [1, T, C] or time-major [T, 1, C]."""
    seq = probs[:, 0] if time_major else probs[0]
    best = seq.argmax(-1)
    return [int(c) for i, c in enumerate(best) if c != 0 and (i == 0 or c != best[i - 1])]


def string_match(ref: list, test: list, time_major: bool = False) -> float:
    """Return the fraction of feeds whose CTC-decoded string equals the FP32 model's."""
    return float(np.mean([ctc_decode(r[0], time_major) == ctc_decode(t[0], time_major) for r, t in zip(ref, test)]))


def top1_agreement(ref: list, test: list) -> float:
    """Return the fraction of feeds whose argmax class (or, for one sigmoid output, decision at 0.5) agrees."""

    def label(x: np.ndarray) -> int:
        x = x.ravel()
        return int(x[0] > 0.5) if x.size == 1 else int(x.argmax())

    return float(np.mean([label(r[0]) == label(t[0]) for r, t in zip(ref, test)]))


def embedding_cosine(ref: list, test: list, index: int = 0) -> float:
    """Return the mean cosine similarity of output `index` (flattened per feed) to the FP32 one."""
    cos = []
    for r, t in zip(ref, test):
        a, b = r[index].ravel().astype(np.float64), t[index].ravel().astype(np.float64)
        cos.append(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    return float(np.mean(cos))


def mask_iou(ref: list, test: list, threshold: float = 0.3) -> float:
    """Return the IoU of the binarized probability maps (DB text detectors binarize at 0.3), over all feeds."""
    a = np.concatenate([r[0].ravel() > threshold for r in ref])
    b = np.concatenate([t[0].ravel() > threshold for t in test])
    union = np.sum(a | b)
    return float(np.sum(a & b) / union) if union else 1.0


def box_iou(ref: list, test: list, decode, threshold: float = 0.3, top: int = 10) -> float:
    """Return the mean IoU between FP32 and quantized boxes over the FP32-live anchors (0 where the test drops one).

    `decode(output) -> (boxes [A, 4] as x0 y0 x1 y1, scores [A])`. Live anchors score above `threshold` in FP32;
    where none do (textures without objects), the `top` best FP32 anchors stand in so the metric is never empty.
    """
    ious = []
    for r, t in zip(ref, test):
        rb, rs = decode(r[0])
        tb, ts = decode(t[0])
        live = np.flatnonzero(rs > threshold)
        if live.size == 0:
            live = np.argsort(-rs)[:top]
            kept = np.ones(live.size, bool)
        else:
            kept = ts[live] > threshold
        ious.append(np.where(kept, _iou(rb[live], tb[live]), 0.0))
    return float(np.mean(np.concatenate(ious)))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two [A, 4] box arrays (x0, y0, x1, y1)."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area = lambda x: np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def decode_yolox(out: np.ndarray, size: int = 416, strides=(8, 16, 32)) -> tuple[np.ndarray, np.ndarray]:
    """Decode a raw YOLOX head [1, A, 5 + classes] (grid offsets, log sizes) into pixel boxes and obj*class scores."""
    grids, mult = [], []
    for s in strides:
        g = size // s
        yy, xx = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
        grids.append(np.stack([xx.ravel(), yy.ravel()], 1))
        mult.append(np.full(g * g, s))
    grid, stride = np.concatenate(grids), np.concatenate(mult)[:, None]
    o = out[0].astype(np.float64)
    xy = (o[:, :2] + grid) * stride
    wh = np.exp(np.clip(o[:, 2:4], -10, 10)) * stride
    scores = o[:, 4] * o[:, 5:].max(1)
    return np.concatenate([xy - wh / 2, xy + wh / 2], 1), scores


def decode_yolov8(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode a YOLOv8 head [1, 4 + classes, A] (cx, cy, w, h in pixels, class probabilities)."""
    o = out[0].T.astype(np.float64)
    xy, wh = o[:, :2], o[:, 2:4]
    return np.concatenate([xy - wh / 2, xy + wh / 2], 1), o[:, 4:].max(1)


TASKS = {
    "string_match": string_match,
    "string_match_time_major": lambda r, t: string_match(r, t, time_major=True),
    "top1": top1_agreement,
    "cosine": embedding_cosine,
    "cosine_out1": lambda r, t: embedding_cosine(r, t, index=1),
    "mask_iou": mask_iou,
    "box_iou_yolox": lambda r, t: box_iou(r, t, decode_yolox),
    "box_iou_yolov8": lambda r, t: box_iou(r, t, decode_yolov8, threshold=0.25),
}


def task_metric(task: str, ref: list, test: list) -> float:
    """Return the task metric named `task` (a key of TASKS) of `test` against `ref`; nan when outputs mismatch."""
    try:
        return TASKS[task](ref, test)
    except (ValueError, IndexError, TypeError):  # a quantized model whose outputs changed shape scores nan, not a crash
        return float("nan")
