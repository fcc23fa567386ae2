"""Presenting crossbar simulation results: drift-time parsing, the accuracy-vs-time plot, the text table."""

from __future__ import annotations

import io
import re

import numpy as np

from edgeq.errors import ConfigError

from .api import SimulationResult

__all__ = ["format_duration", "parse_duration", "parse_durations", "plot_png", "table_rows"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365.25 * 86400.0}


def parse_duration(text: str) -> float:
    """Return seconds for a duration like "0", "1s", "10m", "1h", "1d", "2w", "1y" (a bare number is seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?(?:e[+-]?\d+)?)\s*([smhdwy]?)\s*", text.lower())
    if not match:
        raise ConfigError(f"cannot read drift time {text!r}; use a number with a unit s, m, h, d, w or y (e.g. 1h)")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not seconds <= 1e12:  # also catches overflow to inf; a drift model fitted over hours says nothing at 1e12 s
        raise ConfigError(f"drift time {text!r} is beyond 1e12 s (about 30,000 years); use a shorter time")
    return seconds


def parse_durations(text: str) -> list[float]:
    """Return the seconds of a comma-separated list of durations, e.g. "1s,1h,1d,1y"."""
    times = [parse_duration(part) for part in text.split(",") if part.strip()]
    if not times:
        raise ConfigError("no drift times given; pass e.g. --drift 1s,1h,1d,1y")
    return times


def format_duration(seconds: float) -> str:
    """Return a short label for a duration in seconds (1y, 1d, 1h, 10m, 1s, 0)."""
    for unit in ("y", "w", "d", "h", "m", "s"):
        value = seconds / _UNITS[unit]
        if value >= 1 and abs(value - round(value)) < 1e-9:
            return f"{round(value)}{unit}"
    return "0" if seconds == 0 else f"{seconds:.3g}s"


def table_rows(result: SimulationResult) -> list[list[str]]:
    """Return rows [time, accuracy mean +- std, SQNR mean +- std] for a text table."""
    rows = []
    for row in result.summary():
        acc = (
            "-"
            if "accuracy_mean" not in row
            else f"{100 * row['accuracy_mean']:.2f} +- {100 * row['accuracy_std']:.2f}"
        )
        rows.append([format_duration(row["t_s"]), acc, f"{row['sqnr_db_mean']:.1f} +- {row['sqnr_db_std']:.1f}"])
    return rows


def plot_png(result: SimulationResult, title: str) -> bytes:
    """Return a PNG of accuracy (or SQNR without labels) vs time since programming, mean with min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = result.accuracy * 100 if result.accuracy is not None else result.sqnr_db
    label = "top-1 accuracy (%)" if result.accuracy is not None else "output SQNR vs FP32 (dB)"
    times = np.maximum(np.asarray(result.drift_times_s), 1e-1)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(times, values.mean(axis=0), "o-", label=f"{result.preset} (mean of {values.shape[0]})")
    ax.fill_between(times, values.min(axis=0), values.max(axis=0), alpha=0.25, label="min-max over chips")
    if result.fp32_accuracy is not None:
        ax.axhline(100 * result.fp32_accuracy, color="k", ls="--", lw=1, label="FP32")
    ax.set_xscale("log")
    ax.set_xticks(times, [format_duration(t) for t in result.drift_times_s])
    ax.set_xlabel("time since programming")
    ax.set_ylabel(label)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
