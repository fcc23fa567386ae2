"""Streaming calibration: observe every activation point batch by batch, choose ranges, propagate shared scales."""

from __future__ import annotations

from ...feeds import FeedSet
from ...graph.points import QuantPoints
from ...progress import progress_bar
from ..config import QuantConfig
from ..planner import range_quantizer
from ..reference import ObservedModel
from .observers import HistogramObserver, MinMaxObserver
from .ranges import choose_range


def calibrate(observed: ObservedModel, feeds: FeedSet, points: QuantPoints, config: QuantConfig, progress: bool):
    """Return activation tensor -> (lo, hi), streaming the calibration feeds one run at a time."""
    hist = config.calib_method.name != "minmax"
    observers = {p: (HistogramObserver() if hist else MinMaxObserver()) for p in observed.observe}
    for feed in progress_bar(feeds, "calibrating", progress, "run"):
        _, values = observed.run(feed)
        for p, obs in observers.items():
            obs.update(values[p])
    quantizer = range_quantizer(config.acts)
    ranges = {p: choose_range(o, config.calib_method, quantizer) for p, o in observers.items()}
    return propagate_shared_ranges(ranges, points)


def propagate_shared_ranges(ranges: dict, points: QuantPoints) -> dict:
    """Return ranges where Concat inputs share one range and MaxPool/reshape inputs take their output's range."""
    for node in points.nodes:  # Concat inputs share one scale so the joined tensor is exact
        if node.shared_scale:
            lo = min(ranges[a][0] for a in node.acts)
            hi = max(ranges[a][1] for a in node.acts)
            for a in node.acts:
                ranges[a] = (lo, hi)
    for node in points.nodes:  # chains (MaxPool -> Flatten) were appended output side first
        if node.scale_from is not None:
            ranges[node.acts[0]] = ranges[node.scale_from]
    return ranges
