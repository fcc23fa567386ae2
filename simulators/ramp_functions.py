"""Activation functions a ramp ADC can realise, and how their quantiser thresholds are found.

A B-bit ramp ADC has 2^B output levels y_0 < ... < y_{L-1} spread evenly over the function's range. The quantiser
is "nearest level": x maps to the level closest to f(x). For a monotone increasing f that is the number of
thresholds t_k = f^-1((y_{k-1} + y_k) / 2) lying at or below x, which is what a comparator counting ramp steps
computes when ramp step k has height t_{k+1} - t_k (Yang et al., arXiv 2411.18271). A non-monotone f is split at its
turning points into monotone pieces; every level change inside every piece becomes a threshold, and a small digital
table maps the count (which interval x is in) to the level. A decreasing piece is a reversed table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeq.errors import UserError

ArrayFn = Callable[[np.ndarray], np.ndarray]

# Most monotone pieces a function may have: each turning point costs a piece-select comparator and a re-start of
# the ramp; beyond a handful the scheme stops being a ramp ADC and becomes a lookup table.
MAX_PIECES = 4
_GRID = 20001  # samples used to find turning points and invert a callable


@dataclass(frozen=True)
class NamedFunction:
    """A named activation: f, its exact inverse, the input span used when f is unbounded, and f's output range."""

    name: str
    f: ArrayFn
    f_inv: ArrayFn
    x_range: tuple[float, float]
    y_range: tuple[float, float]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _logit(y: np.ndarray) -> np.ndarray:
    return np.log(y) - np.log1p(-y)


NAMED: dict[str, NamedFunction] = {
    "tanh": NamedFunction("tanh", np.tanh, np.arctanh, (-4.0, 4.0), (-1.0, 1.0)),
    "sigmoid": NamedFunction("sigmoid", _sigmoid, _logit, (-8.0, 8.0), (0.0, 1.0)),
    # torch.nn.Hardsigmoid: relu6(x + 3) / 6
    "hard_sigmoid": NamedFunction(
        "hard_sigmoid", lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0), lambda y: 6.0 * (y - 0.5), (-3.0, 3.0), (0.0, 1.0)
    ),
    "relu_clip": NamedFunction("relu_clip", lambda x: np.clip(x, 0.0, 1.0), lambda y: y, (0.0, 1.0), (0.0, 1.0)),
    "softsign": NamedFunction(
        "softsign", lambda x: x / (1.0 + np.abs(x)), lambda y: y / (1.0 - np.abs(y)), (-8.0, 8.0), (-1.0, 1.0)
    ),
    # softmax numerators after subtracting the row max: inputs in [-8, 0], outputs in [e^-8, 1]
    "exp": NamedFunction("exp", np.exp, np.log, (-8.0, 0.0), (float(np.exp(-8.0)), 1.0)),
}


@dataclass(frozen=True)
class Quantiser:
    """The exact nearest-level quantiser of f: thresholds (ascending), the level table and the function itself.

    code(x) = number of thresholds <= x; output = levels[table[code(x)]].
    """

    thresholds: np.ndarray  # float64 [K], ascending
    table: np.ndarray  # int32 [K + 1]: interval index -> level index
    levels: np.ndarray  # float64 [L]
    f: ArrayFn
    n_pieces: int


def _levels(y_lo: float, y_hi: float, bits: int) -> np.ndarray:
    return np.linspace(y_lo, y_hi, 2**bits)


def _named_quantiser(fn: NamedFunction, bits: int, x_range: tuple[float, float] | None) -> Quantiser:
    y_lo, y_hi = fn.y_range
    if x_range is not None:
        y_lo, y_hi = (float(v) for v in fn.f(np.asarray(x_range, dtype=np.float64)))
    if not y_lo < y_hi:
        raise UserError(f"{fn.name} is constant over x_range {x_range}; widen the range")
    levels = _levels(y_lo, y_hi, bits)
    mids = 0.5 * (levels[1:] + levels[:-1])
    thresholds = np.asarray(fn.f_inv(mids), dtype=np.float64)
    table = np.arange(levels.size, dtype=np.int32)
    return Quantiser(thresholds, table, levels, fn.f, 1)


def _monotone_pieces(x: np.ndarray, y: np.ndarray) -> list[tuple[int, int, int]]:
    """Return (start, stop, direction) index ranges of the grid over which y is monotone (direction +1 or -1)."""
    dy = np.diff(y)
    scale = max(float(np.max(np.abs(y))), 1e-12)
    sign = np.where(np.abs(dy) <= 1e-12 * scale, 0, np.sign(dy)).astype(np.int64)
    pieces: list[tuple[int, int, int]] = []
    start, direction = 0, 0
    for i, s in enumerate(sign):  # runs over the 20k-point grid once per quantiser build, not per element
        if s == 0 or s == direction:
            continue
        if direction != 0:
            pieces.append((start, i, direction))
            start = i
        direction = s
    pieces.append((start, len(x) - 1, direction if direction != 0 else 1))
    return pieces


def _callable_quantiser(f: ArrayFn, bits: int, x_range: tuple[float, float]) -> Quantiser:
    lo, hi = x_range
    x = np.linspace(lo, hi, _GRID)
    y = np.asarray(f(x), dtype=np.float64)
    if y.shape != x.shape or not np.all(np.isfinite(y)):
        raise UserError(f"function must return one finite value per input over x_range {x_range}; check f or the range")
    pieces = _monotone_pieces(x, y)
    if len(pieces) > MAX_PIECES:
        raise UserError(
            f"function has {len(pieces)} monotone pieces over {x_range} (at most {MAX_PIECES} are supported: each "
            "turning point needs a piece-select comparator and a ramp restart); narrow x_range or use a linear ADC + LUT"
        )
    levels = _levels(float(y.min()), float(y.max()), bits)
    mids = 0.5 * (levels[1:] + levels[:-1])
    bounds: list[float] = []
    for start, stop, direction in pieces:
        xs, ys = x[start : stop + 1], y[start : stop + 1]
        if direction < 0:
            xs, ys = xs[::-1], ys[::-1]
        inside = mids[(mids > ys[0]) & (mids < ys[-1])]
        bounds.extend(np.interp(inside, ys, xs).tolist())  # inverse of the monotone piece, linear between samples
        if stop != len(x) - 1:
            bounds.append(float(x[stop]))  # turning point: a piece-select threshold
    thresholds = np.unique(np.asarray(bounds, dtype=np.float64))
    # each interval's level: nearest level to f at the interval's centre (exact, since f's level is constant there)
    edges = np.concatenate([[lo], thresholds, [hi]])
    centres = 0.5 * (edges[1:] + edges[:-1])
    table = np.argmin(np.abs(np.asarray(f(centres))[:, None] - levels[None, :]), axis=1).astype(np.int32)
    return Quantiser(thresholds, table, levels, f, len(pieces))


def build_quantiser(function: str | ArrayFn, bits: int, x_range: tuple[float, float] | None = None) -> Quantiser:
    """Return the exact nearest-level quantiser of a named or callable function at `bits` bits."""
    if not 1 <= bits <= 10:
        raise UserError(f"bits must be between 1 and 10 (ramp ADCs are built for 3-8), got {bits}")
    if isinstance(function, str):
        if function not in NAMED:
            raise UserError(f"unknown ramp function {function!r}; choose one of {sorted(NAMED)} or pass a callable")
        if x_range is not None and not x_range[0] < x_range[1]:
            raise UserError(f"x_range must be (lo, hi) with lo < hi, got {x_range}")
        return _named_quantiser(NAMED[function], bits, x_range)
    if not callable(function):
        raise UserError("function must be a name or a callable taking and returning NumPy arrays")
    if x_range is None or not x_range[0] < x_range[1]:
        raise UserError("a callable function needs x_range=(lo, hi) with lo < hi: the input span the ramp covers")
    return _callable_quantiser(function, bits, x_range)


def function_range(function: str | ArrayFn, x_range: tuple[float, float] | None) -> tuple[float, float]:
    """Return the input span (lo, hi) a linear ADC in front of a lookup table should cover for this function."""
    if x_range is not None:
        return x_range
    if isinstance(function, str) and function in NAMED:
        return NAMED[function].x_range
    raise UserError("a callable function needs x_range=(lo, hi)")


def resolve_function(function: str | ArrayFn) -> ArrayFn:
    """Return the NumPy callable for a function name or the callable itself."""
    if isinstance(function, str):
        if function not in NAMED:
            raise UserError(f"unknown ramp function {function!r}; choose one of {sorted(NAMED)} or pass a callable")
        return NAMED[function].f
    return function
