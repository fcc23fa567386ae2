"""Immutable descriptions of number formats: integers, minifloats and MX block formats.

Every property is derived from the few defining fields, so a format cannot disagree with itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union


class Specials(str, enum.Enum):
    """How a minifloat spends its top exponent codes on infinities and NaNs."""

    IEEE = "ieee"
    """Top exponent reserved: mantissa 0 is +-inf, anything else NaN (E5M2, float8_e3m4, FP16)."""
    FN = "fn"
    """Finite, with one NaN: only S.1111.111 (all ones) is NaN, no inf (OCP E4M3FN)."""
    FNUZ = "fnuz"
    """Finite, unsigned zero: the negative-zero code 0x80 is the single NaN, no inf."""
    FINITE = "finite"
    """Every code is a finite number: no inf, no NaN (OCP FP6 and FP4)."""


@dataclass(frozen=True)
class IntFormat:
    """A two's-complement (signed) or plain binary (unsigned) integer of `bits` bits."""

    bits: int
    signed: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.bits <= 16:
            raise ValueError(f"integer formats take 2..16 bits, got {self.bits}")

    @property
    def name(self) -> str:
        return f"{'' if self.signed else 'u'}int{self.bits}"

    @property
    def kind(self) -> str:
        return "int"

    @property
    def qmin(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def max(self) -> float:
        return float(self.qmax)

    @property
    def min_normal(self) -> float:
        return 1.0

    @property
    def min_subnormal(self) -> float:
        return 1.0

    @property
    def num_finite(self) -> int:
        return 1 << self.bits

    has_inf = False
    has_nan = False
    signed_zero = False


@dataclass(frozen=True)
class FloatFormat:
    """A binary minifloat with `exp_bits` exponent bits, `man_bits` mantissa bits and a sign bit.

    `bias` defaults to the IEEE bias 2^(E-1)-1 (one more for FNUZ formats, as in float8_e4m3fnuz). Values are
    (-1)^s * 2^(e - bias) * 1.m for e > 0 and (-1)^s * 2^(1 - bias) * 0.m for subnormals (e = 0).
    """

    exp_bits: int
    man_bits: int
    specials: Specials = Specials.IEEE
    bias: int | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.exp_bits <= 8:
            raise ValueError(f"minifloats take 1..8 exponent bits, got {self.exp_bits}")
        if not 0 <= self.man_bits <= 23:
            raise ValueError(f"minifloats take 0..23 mantissa bits, got {self.man_bits}")
        object.__setattr__(self, "specials", Specials(self.specials))
        if self.specials is Specials.IEEE and self.exp_bits < 2:
            raise ValueError("an IEEE-style minifloat needs at least 2 exponent bits")
        # float32 carries the arithmetic: the format's normal range must sit inside float32's normal range
        if self.min_exp < -126 or self.max_exp > 127:
            raise ValueError(f"{self.name} does not fit in float32 arithmetic (exponent range too wide)")

    @property
    def effective_bias(self) -> int:
        if self.bias is not None:
            return self.bias
        return (1 << (self.exp_bits - 1)) - 1 + (1 if self.specials is Specials.FNUZ else 0)

    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def kind(self) -> str:
        return "float"

    @property
    def name(self) -> str:
        if self.alias:
            return self.alias
        suffix = {Specials.IEEE: "", Specials.FN: "fn", Specials.FNUZ: "fnuz", Specials.FINITE: "finite"}[self.specials]
        bias = "" if self.bias is None else f"b{self.bias}"
        return f"e{self.exp_bits}m{self.man_bits}{bias}{suffix}"

    @property
    def min_exp(self) -> int:
        """Exponent of the smallest normal number (also the scale of the subnormals)."""
        return 1 - self.effective_bias

    @property
    def max_exp(self) -> int:
        """Exponent of the largest finite binade."""
        top = (1 << self.exp_bits) - 1
        return (top - 1 if self.specials is Specials.IEEE else top) - self.effective_bias

    @property
    def max(self) -> float:
        # Mantissa codes available in the top finite binade: FN loses the all-ones mantissa to NaN.
        top_mantissa = (1 << self.man_bits) - 1
        if self.specials is Specials.FN:
            top_mantissa -= 1
        if top_mantissa < 0:
            raise ValueError(f"{self.name} has no finite top binade")
        return float(2.0**self.max_exp * (1 + top_mantissa / (1 << self.man_bits)))

    @property
    def min_normal(self) -> float:
        return float(2.0**self.min_exp)

    @property
    def min_subnormal(self) -> float:
        return float(2.0 ** (self.min_exp - self.man_bits))

    @property
    def has_inf(self) -> bool:
        return self.specials is Specials.IEEE

    @property
    def has_nan(self) -> bool:
        return self.specials is not Specials.FINITE

    @property
    def signed_zero(self) -> bool:
        return self.specials is not Specials.FNUZ

    @property
    def num_finite(self) -> int:
        """Number of distinct finite values (+0 and -0 counted once)."""
        codes = 1 << self.bits
        non_finite = {
            Specials.IEEE: 2 * (1 << self.man_bits),
            Specials.FN: 2,
            Specials.FNUZ: 1,
            Specials.FINITE: 0,
        }[self.specials]
        zeros_merged = 1 if self.signed_zero else 0
        return codes - non_finite - zeros_merged


@dataclass(frozen=True)
class BlockFormat:
    """An OCP Microscaling (MX) format: blocks of `block_size` elements share a power-of-two E8M0 scale."""

    element: Union[FloatFormat, IntFormat]
    block_size: int = 32
    alias: str | None = None

    def __post_init__(self) -> None:
        if self.block_size < 1:
            raise ValueError(f"block_size must be positive, got {self.block_size}")

    @property
    def name(self) -> str:
        return self.alias or f"mx_{self.element.name}_b{self.block_size}"

    @property
    def kind(self) -> str:
        return "block"

    @property
    def bits(self) -> int:
        return self.element.bits

    @property
    def bits_per_element(self) -> float:
        """Storage per element including the 8-bit shared scale."""
        return self.element.bits + 8 / self.block_size

    @property
    def element_emax(self) -> int:
        """Exponent of the element format's largest power of two, used to pick the shared scale (OCP MX 1.0)."""
        if isinstance(self.element, IntFormat):
            # MXINT8 elements are fixed point 1.6 (|x| < 2), so their emax is 0.
            return 0
        return self.element.max_exp

    @property
    def max(self) -> float:
        return self.element.max * 2.0**127

    @property
    def min_normal(self) -> float:
        return self.element.min_normal * 2.0**-127

    @property
    def min_subnormal(self) -> float:
        return self.element.min_subnormal * 2.0**-127

    @property
    def num_finite(self) -> int:
        return self.element.num_finite

    @property
    def has_inf(self) -> bool:
        return False

    @property
    def has_nan(self) -> bool:
        return True  # the E8M0 scale code 0xFF is NaN

    @property
    def signed_zero(self) -> bool:
        return self.element.signed_zero


Format = Union[IntFormat, FloatFormat, BlockFormat]
