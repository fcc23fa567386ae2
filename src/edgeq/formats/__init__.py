"""Number formats: integers, minifloats (FP8/FP6/FP4 and any ExMy) and MX block formats, with exact rounding."""

from .granularity import Granularity, PerBlock, PerChannel, PerTensor, choose_scale, parse_format, parse_granularity
from .ops import decode, decode_table, encode, fake_quant, mx_scale_exponents, scale_for_range
from .registry import ALIASES, format_names, get_format, list_formats
from .spec import BlockFormat, FloatFormat, Format, IntFormat, Specials

__all__ = [
    "ALIASES",
    "BlockFormat",
    "FloatFormat",
    "Format",
    "Granularity",
    "IntFormat",
    "PerBlock",
    "PerChannel",
    "PerTensor",
    "Specials",
    "choose_scale",
    "decode",
    "decode_table",
    "encode",
    "fake_quant",
    "format_names",
    "get_format",
    "list_formats",
    "mx_scale_exponents",
    "parse_format",
    "parse_granularity",
    "scale_for_range",
]
