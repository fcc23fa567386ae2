"""Calibration: streaming observers, range selection (minmax, percentile, MSE, entropy) and range propagation."""

from .collect import calibrate, propagate_shared_ranges
from .observers import HistogramObserver, MinMaxObserver
from .ranges import choose_range

__all__ = ["HistogramObserver", "MinMaxObserver", "calibrate", "choose_range", "propagate_shared_ranges"]
