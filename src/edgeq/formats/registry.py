"""The one registry of named formats, and a parser for generic names such as `e3m4b5` or `uint6`."""

from __future__ import annotations

import re

from .spec import BlockFormat, FloatFormat, Format, IntFormat, Specials

_E4M3FN = FloatFormat(4, 3, Specials.FN, alias="fp8_e4m3")
_E5M2 = FloatFormat(5, 2, Specials.IEEE, alias="fp8_e5m2")
_FP6_E3M2 = FloatFormat(3, 2, Specials.FINITE, alias="fp6_e3m2")
_FP6_E2M3 = FloatFormat(2, 3, Specials.FINITE, alias="fp6_e2m3")
_FP4_E2M1 = FloatFormat(2, 1, Specials.FINITE, alias="fp4_e2m1")

_NAMED: dict[str, Format] = {
    "fp8_e4m3": _E4M3FN,
    "fp8_e4m3fnuz": FloatFormat(4, 3, Specials.FNUZ, alias="fp8_e4m3fnuz"),
    "fp8_e5m2": _E5M2,
    "fp8_e5m2fnuz": FloatFormat(5, 2, Specials.FNUZ, alias="fp8_e5m2fnuz"),
    # The whitepaper's low-exponent FP8 splits. E3M4 follows ml_dtypes.float8_e3m4 (IEEE specials); E2M5 has no
    # ml_dtypes twin and spends only one code on NaN (OCP FN style), keeping its small exponent range usable.
    "fp8_e3m4": FloatFormat(3, 4, Specials.IEEE, alias="fp8_e3m4"),
    "fp8_e2m5": FloatFormat(2, 5, Specials.FN, alias="fp8_e2m5"),
    "fp6_e3m2": _FP6_E3M2,
    "fp6_e2m3": _FP6_E2M3,
    "fp4_e2m1": _FP4_E2M1,
    "fp16": FloatFormat(5, 10, Specials.IEEE, alias="fp16"),
    "bf16": FloatFormat(8, 7, Specials.IEEE, alias="bf16"),
    "mxfp8_e4m3": BlockFormat(_E4M3FN, 32, alias="mxfp8_e4m3"),
    "mxfp8_e5m2": BlockFormat(_E5M2, 32, alias="mxfp8_e5m2"),
    "mxfp6_e3m2": BlockFormat(_FP6_E3M2, 32, alias="mxfp6_e3m2"),
    "mxfp6_e2m3": BlockFormat(_FP6_E2M3, 32, alias="mxfp6_e2m3"),
    "mxfp4": BlockFormat(_FP4_E2M1, 32, alias="mxfp4"),
    "mxint8": BlockFormat(IntFormat(8), 32, alias="mxint8"),
}
for _bits in range(2, 17):
    _NAMED[f"int{_bits}"] = IntFormat(_bits, signed=True)
    _NAMED[f"uint{_bits}"] = IntFormat(_bits, signed=False)

ALIASES: dict[str, str] = {
    "fp8": "fp8_e4m3",
    "e4m3": "fp8_e4m3",
    "e4m3fn": "fp8_e4m3",
    "fp8_e4m3fn": "fp8_e4m3",
    "e4m3fnuz": "fp8_e4m3fnuz",
    "e5m2": "fp8_e5m2",
    "e5m2fnuz": "fp8_e5m2fnuz",
    "e3m4": "fp8_e3m4",
    "e2m5": "fp8_e2m5",
    "e3m2": "fp6_e3m2",
    "e2m3": "fp6_e2m3",
    "e2m1": "fp4_e2m1",
    "fp4": "fp4_e2m1",
    "mxfp8": "mxfp8_e4m3",
    "mxfp6": "mxfp6_e3m2",
    "float16": "fp16",
    "bfloat16": "bf16",
}

_GENERIC = re.compile(r"^(?:fp(\d+)_)?e(\d)m(\d+)(?:_?b(-?\d+))?(fnuz|fn|finite|ieee)?$")


def get_format(name_or_format: str | Format) -> Format:
    """Return the format for a registry name, alias or generic `eXmY[bBIAS][fn|fnuz|finite]` name."""
    if not isinstance(name_or_format, str):
        return name_or_format
    key = name_or_format.strip().lower()
    key = ALIASES.get(key, key)
    if key in _NAMED:
        return _NAMED[key]
    match = _GENERIC.match(key)
    if match:
        width, exp_bits, man_bits, bias, specials = match.groups()
        specials = Specials(specials) if specials else Specials.IEEE
        if width is not None and int(width) != 1 + int(exp_bits) + int(man_bits):
            raise ValueError(f"unknown format {name_or_format!r}: fp{width} cannot have e{exp_bits}m{man_bits}")
        try:
            return FloatFormat(int(exp_bits), int(man_bits), specials, None if bias is None else int(bias))
        except ValueError as err:
            raise ValueError(f"unknown format {name_or_format!r}: {err}") from None
    raise ValueError(
        f"unknown format {name_or_format!r}; run `edgeq formats` for the list, or write a minifloat as e.g. e3m4b5"
    )


def list_formats() -> list[Format]:
    """Return every registered format, integers first, then minifloats, then block formats."""
    order = {"int": 0, "float": 1, "block": 2}
    return sorted(_NAMED.values(), key=lambda f: (order[f.kind], f.bits, f.name))


def format_names() -> list[str]:
    """Return the registry's canonical names (what `--fmt` accepts besides aliases and generic names)."""
    return [f.name for f in list_formats()]
