"""Comparator-count kernels of the ramp ADC: a Numba kernel and its NumPy twin (same results, tested together).

Each column output x = y * gain + offset (+ comparator noise) is compared with the ramp's thresholds; the count of
thresholds at or below x selects an entry of the output table. The ramp is shared by every column converted in one
sweep, so thresholds are one row per sweep (read noise) or one row for all. The count mirrors the hardware: the ramp
sweeps its 2^B - 1 steps and all comparators of a row compare at once, a branch-free compare-and-add over the
columns that SIMD vectorises (a per-element binary search was 3-13x slower: its dependent loads stall). It is fused
with the column gain/offset, comparator noise and the table lookup, so the MVM output is read once.
"""

from __future__ import annotations

import numba
import numpy as np


def pad_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """Return float32 thresholds [R, 2^m - 1] padded on the right with +inf (m the smallest that fits)."""
    t = np.atleast_2d(np.asarray(thresholds, dtype=np.float32))
    width = 1
    while width - 1 < t.shape[1]:
        width *= 2
    out = np.full((t.shape[0], width - 1), np.inf, dtype=np.float32)
    out[:, : t.shape[1]] = t
    return out


def pad_table(table: np.ndarray, n_padded: int) -> np.ndarray:
    """Return the output table as float32 [n_padded + 1], repeating its last entry for the +inf pad thresholds."""
    t = np.asarray(table, dtype=np.float32)
    out = np.full(n_padded + 1, t[-1], dtype=np.float32)
    out[: t.size] = t
    return out


@numba.njit(cache=True, boundscheck=False)
def ramp_convert_numba(
    y: np.ndarray, gain: np.ndarray, offset: np.ndarray, noise: np.ndarray, thresholds: np.ndarray, table: np.ndarray
) -> np.ndarray:
    """Return table[count(thresholds <= y * gain + offset + noise)] for y [N, C] (noise [N, C] or [0, 0])."""
    n, c = y.shape
    n_thr = thresholds.shape[1]
    per_row = thresholds.shape[0] > 1
    has_noise = noise.shape[0] > 0
    out = np.empty((n, c), dtype=np.float32)
    xs = np.empty(c, dtype=np.float32)
    count = np.empty(c, dtype=np.int32)
    for i in range(n):
        t = thresholds[i] if per_row else thresholds[0]
        for j in range(c):
            v = y[i, j] * gain[j] + offset[j]
            if has_noise:
                v += noise[i, j]
            xs[j] = v
            count[j] = 0
        # the ramp sweeps its steps; every column's comparator checks each step: a branch-free SIMD loop over columns
        for k in range(n_thr):
            tk = t[k]
            if tk == np.inf:
                break  # padding: no column can pass it
            for j in range(c):
                count[j] += np.int32(xs[j] >= tk)
        for j in range(c):
            out[i, j] = table[count[j]]
    return out


def ramp_convert_numpy(
    y: np.ndarray, gain: np.ndarray, offset: np.ndarray, noise: np.ndarray, thresholds: np.ndarray, table: np.ndarray
) -> np.ndarray:
    """NumPy twin of `ramp_convert_numba` (same arguments, same float32 result)."""
    x = (y.astype(np.float32) * gain.astype(np.float32) + offset.astype(np.float32)).astype(np.float32)
    if noise.shape[0] > 0:
        x = (x + noise.astype(np.float32)).astype(np.float32)
    if thresholds.shape[0] == 1:
        idx = np.searchsorted(thresholds[0], x, side="right")
    else:
        idx = np.stack([np.searchsorted(thresholds[i], x[i], side="right") for i in range(x.shape[0])])
    return table[idx].astype(np.float32)


def ramp_convert(
    y: np.ndarray,
    gain: np.ndarray,
    offset: np.ndarray,
    noise: np.ndarray | None,
    thresholds: np.ndarray,
    table: np.ndarray,
    backend: str = "numba",
) -> np.ndarray:
    """Return the ramp-ADC outputs for column values y [N, C] (padded thresholds/table from `pad_*`)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    noise_arr = np.zeros((0, 0), np.float32) if noise is None else np.ascontiguousarray(noise, dtype=np.float32)
    args = (
        y,
        np.ascontiguousarray(gain, dtype=np.float32),
        np.ascontiguousarray(offset, dtype=np.float32),
        noise_arr,
        np.ascontiguousarray(thresholds, dtype=np.float32),
        np.ascontiguousarray(table, dtype=np.float32),
    )
    if backend == "numba":
        return ramp_convert_numba(*args)
    return ramp_convert_numpy(*args)


@numba.njit(cache=True, boundscheck=False)
def ramp_convert_two_step_numba(
    y: np.ndarray, gain: np.ndarray, offset: np.ndarray, noise: np.ndarray, coarse: np.ndarray, fine: np.ndarray,
    table: np.ndarray
) -> np.ndarray:
    """Return table[c * M + f] for y [N, C]: c = count(coarse <= x), f = count(fine[c] <= x), M = fine.shape[2] + 1.

    coarse [R, G - 1] and fine [R, G, M - 1] with R = 1 (shared by all rows) or N (one sweep pair per row); the
    comparator sees the same x (one noise draw per conversion) in both phases.
    """
    n, c = y.shape
    n_coarse = coarse.shape[1]
    n_fine = fine.shape[2]
    per_row = coarse.shape[0] > 1
    has_noise = noise.shape[0] > 0
    out = np.empty((n, c), dtype=np.float32)
    xs = np.empty(c, dtype=np.float32)
    group = np.empty(c, dtype=np.int32)
    count = np.empty(c, dtype=np.int32)
    for i in range(n):
        r = i if per_row else 0
        for j in range(c):
            v = y[i, j] * gain[j] + offset[j]
            if has_noise:
                v += noise[i, j]
            xs[j] = v
            group[j] = 0
            count[j] = 0
        # coarse phase: one group of steps per cycle, every comparator checks it (compare-and-add over columns)
        for k in range(n_coarse):
            tk = coarse[r, k]
            for j in range(c):
                group[j] += np.int32(xs[j] >= tk)
        # fine phase: all groups sweep in parallel; each comparator listens to its own group (looped per column
        # over its group's contiguous thresholds: a gather per column and step would not vectorize)
        for j in range(c):
            thresholds = fine[r, group[j]]
            xj = xs[j]
            n_above = np.int32(0)
            for k in range(n_fine):
                n_above += np.int32(xj >= thresholds[k])
            count[j] = n_above
        for j in range(c):
            out[i, j] = table[group[j] * (n_fine + 1) + count[j]]
    return out


def ramp_convert_two_step_numpy(
    y: np.ndarray, gain: np.ndarray, offset: np.ndarray, noise: np.ndarray, coarse: np.ndarray, fine: np.ndarray,
    table: np.ndarray
) -> np.ndarray:
    """NumPy twin of `ramp_convert_two_step_numba` (same arguments, same float32 result)."""
    x = (y.astype(np.float32) * gain.astype(np.float32) + offset.astype(np.float32)).astype(np.float32)
    if noise.shape[0] > 0:
        x = (x + noise.astype(np.float32)).astype(np.float32)
    rows = np.arange(x.shape[0]) if coarse.shape[0] > 1 else np.zeros(x.shape[0], dtype=np.int64)
    group = np.sum(x[:, :, None] >= coarse[rows][:, None, :], axis=2)  # [N, C]
    fine_sel = fine[rows[:, None], group]  # [N, C, M - 1]: each column's own group
    count = np.sum(x[:, :, None] >= fine_sel, axis=2)
    return table[group * (fine.shape[2] + 1) + count].astype(np.float32)


def ramp_convert_two_step(
    y: np.ndarray,
    gain: np.ndarray,
    offset: np.ndarray,
    noise: np.ndarray | None,
    coarse: np.ndarray,
    fine: np.ndarray,
    table: np.ndarray,
    backend: str = "numba",
) -> np.ndarray:
    """Return the coarse-fine ramp-ADC outputs for column values y [N, C] (thresholds from `two_step_thresholds`)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    noise_arr = np.zeros((0, 0), np.float32) if noise is None else np.ascontiguousarray(noise, dtype=np.float32)
    coarse = np.ascontiguousarray(np.atleast_2d(coarse), dtype=np.float32)
    fine = np.ascontiguousarray(fine, dtype=np.float32)
    if fine.ndim == 2:
        fine = fine[None]
    args = (
        y,
        np.ascontiguousarray(gain, dtype=np.float32),
        np.ascontiguousarray(offset, dtype=np.float32),
        noise_arr,
        coarse,
        fine,
        np.ascontiguousarray(table, dtype=np.float32),
    )
    if backend == "numba":
        return ramp_convert_two_step_numba(*args)
    return ramp_convert_two_step_numpy(*args)


@numba.njit(cache=True, boundscheck=False)
def linear_lut_numba(x: np.ndarray, lo: np.float32, inv_step: np.float32, table: np.ndarray) -> np.ndarray:
    """Return table[clip(floor((x - lo) * inv_step + 0.5), 0, len(table) - 1)] for x [N, C] (uniform ADC + LUT)."""
    n, c = x.shape
    top = table.shape[0] - 1
    out = np.empty((n, c), dtype=np.float32)
    half = np.float32(0.5)
    for i in range(n):
        for j in range(c):
            v = np.floor((x[i, j] - lo) * inv_step + half)
            v = min(max(v, np.float32(0.0)), np.float32(top))  # NaN falls to code 0 like the twin
            out[i, j] = table[0 if np.isnan(v) else int(v)]
    return out


def linear_lut_numpy(x: np.ndarray, lo: np.float32, inv_step: np.float32, table: np.ndarray) -> np.ndarray:
    """NumPy twin of `linear_lut_numba`."""
    v = np.floor((x.astype(np.float32) - np.float32(lo)) * np.float32(inv_step) + np.float32(0.5))
    v = np.nan_to_num(np.clip(v, 0, table.shape[0] - 1), nan=0.0)
    return table[v.astype(np.int64)]
