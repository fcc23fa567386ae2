"""edgeq: how should this network run on edge hardware? Quantize, simulate analog, cost and sweep, with measurements."""

__version__ = "0.1.0"
