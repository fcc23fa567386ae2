"""Streaming calibration: observe every activation point batch by batch, choose ranges, propagate shared scales."""

from __future__ import annotations

from ...data import batches
from ...graph.points import QuantPoints
from ...progress import progress_bar
from ..config import QuantConfig
from ..planner import range_quantizer
from ..reference import StagedSimulator
from .observers import HistogramObserver, MinMaxObserver
from .ranges import choose_range


def calibrate(sim: StagedSimulator, data, batch: int, points: QuantPoints, config: QuantConfig, progress: bool):
    """Return activation tensor -> (lo, hi), streaming the calibration data batch by batch."""
    hist = config.calib_method.name != "minmax"
    observers = {p: (HistogramObserver() if hist else MinMaxObserver()) for p in sim.points}

    def observe(obs):
        def fn(x):
            obs.update(x)
            return x

        return fn

    transforms = {p: observe(o) for p, o in observers.items()}
    chunks = list(batches(data, batch))
    for chunk in progress_bar(chunks, "calibrating", progress, "batch"):
        sim.run(chunk, transforms)
    ranges = {p: choose_range(o, config.calib_method, range_quantizer(config.acts)) for p, o in observers.items()}
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
