"""Quantization-aware training for every edgeq format: brevitas core quantizers where they express the format
exactly (signed ints, IEEE/FN/finite minifloats incl. FP8 with any bias, FP6, FP4), edgeq's straight-through
fake_quant for the rest (MX block formats, FNUZ minifloats, unsigned ints). The only package importing brevitas."""

from .config import QATConfig
from .prepare import calibrate, convert, float_model, prepare, quant_layers
from .train import FitConfig, fit, quantization_aware, token_cross_entropy

__all__ = [
    "FitConfig",
    "QATConfig",
    "calibrate",
    "convert",
    "fit",
    "float_model",
    "prepare",
    "quant_layers",
    "quantization_aware",
    "token_cross_entropy",
]
