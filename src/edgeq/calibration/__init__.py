"""Calibration: streaming observers and range selection (minmax, percentile, MSE, entropy)."""

from .observers import HistogramObserver, MinMaxObserver
from .ranges import choose_range

__all__ = ["HistogramObserver", "MinMaxObserver", "choose_range"]
