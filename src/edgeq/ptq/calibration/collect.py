"""Streaming calibration: observe every activation point batch by batch, choose ranges, propagate shared scales."""

from __future__ import annotations

import numpy as np

from ...feeds import FeedSet
from ...graph.points import QuantPoints
from ...progress import progress_bar
from ..config import QuantConfig
from ..planner import range_quantizer
from ..reference import ObservedModel
from .observers import HistogramObserver, MinMaxObserver
from .ranges import choose_range


KEEP_OUTPUTS_BYTES = 256 << 20


def calibrate(observed: ObservedModel, feeds: FeedSet, points: QuantPoints, config: QuantConfig, progress: bool,
              keep_outputs: bool = False):
    """Return (activation tensor -> (lo, hi), the float outputs of each feed or None), streaming the calibration
    feeds one run at a time. `keep_outputs` keeps the model outputs (not the observed tensors) for reuse when
    the calibration data is also the evaluation data, up to KEEP_OUTPUTS_BYTES."""
    hist = config.calib_method.name != "minmax"
    observers = {p: (HistogramObserver() if hist else MinMaxObserver()) for p in observed.observe}
    kept: list[list[np.ndarray]] | None = [] if keep_outputs else None
    size = 0
    for feed in progress_bar(feeds, "calibrating", progress, "run", feeds.runs):
        outputs, values = observed.run(feed)
        for p, obs in observers.items():
            obs.update(values[p])
        if kept is not None:
            size += sum(o.nbytes for o in outputs)
            kept.append(outputs)
            if size > KEEP_OUTPUTS_BYTES:  # too big to keep: measure will run the float model again
                kept = None
    quantizer = range_quantizer(config.acts)
    ranges = {p: choose_range(o, config.calib_method, quantizer) for p, o in observers.items()}
    return propagate_shared_ranges(ranges, points), kept


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
