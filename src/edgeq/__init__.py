"""edgeq: how should this network run on edge hardware? Quantize, simulate analog, cost and sweep, with measurements."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """Import `edgeq.quantize` on first use, so `import edgeq` stays light (no onnxruntime, no numba)."""
    if name == "quantize":
        from .ptq import quantize

        return quantize
    raise AttributeError(f"module 'edgeq' has no attribute {name!r}")
