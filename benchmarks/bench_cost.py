"""Time the cost models: data-true crossbar energy (edgeq's `crossbar_read_energy_pj`) beside the obvious NumPy a
user would write, `(v * v) @ g.sum(1)` (the same algebra: edgeq adds only validation and units, so the honest ratio
is about 1), and network_cost on the digits CNN. Prints rows, then one JSON line of ratios (medians of repeats)."""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
from edgeq.examples import example_path
from edgeq.hw_models import crossbar_read_energy_pj, network_cost


def _median_s(fn, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Run the benchmark and print its rows and JSON line."""
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-4, size=(512, 512))
    v = rng.uniform(0, 0.2, size=(256, 512))
    ours = _median_s(lambda: crossbar_read_energy_pj(g, v, 1e-9))
    obvious = _median_s(lambda: float(np.sum((v * v) @ g.sum(axis=1)) * 1e-9 * 1e12))
    assert np.isclose(crossbar_read_energy_pj(g, v, 1e-9), float(np.sum((v * v) @ g.sum(axis=1))) * 1e3)
    cnn = str(example_path("digits_cnn.onnx"))
    digital = _median_s(lambda: network_cost(cnn, "int8", tech="7nm"), repeats=5)
    analog = _median_s(lambda: network_cost(cnn, "int8", target="analog", hw="nl-ramp5"), repeats=5)
    print(f"crossbar energy 512x512, 256 reads: edgeq {ours * 1e3:.3f} ms, (v*v) @ g.sum(1) {obvious * 1e3:.3f} ms")
    print(f"network_cost digits CNN: digital {digital * 1e3:.1f} ms, analog {analog * 1e3:.1f} ms")
    print(json.dumps({"bench": "cost", "edgeq_vs_obvious_numpy": round(ours / obvious, 2),
                      "network_cost_digital_ms": round(digital * 1e3, 2),
                      "network_cost_analog_ms": round(analog * 1e3, 2)}))


if __name__ == "__main__":
    main()
