"""What `edgeq.qat.prepare` does to a model: formats, granularity, scale learning, per-layer overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import formats
from ..errors import UserError
from ..formats.spec import Format

GRANULARITIES = ("tensor", "channel")


def parse_format(name: str | None) -> Format | None:
    """Return the format for a name (None keeps the tensor in float); unknown names raise UserError."""
    if name is None or str(name).lower() in ("none", "float", "fp32"):
        return None
    return formats.parse_format(name)


@dataclass(frozen=True)
class QATConfig:
    """How to quantize a torch model for training.

    Attributes:
        weights: weight format name (`edgeq formats`), or None for float weights.
        acts: format of every quantized layer's input activation, or None for float activations.
        granularity: weight scales "tensor" or "channel" (output channel). Activations are per tensor; MX formats
            always use their own 32-element block scales.
        learn_scales: make every scale a trainable parameter initialised from calibration (LSQ-style), instead of
            weight scales that follow max|W| and activation scales fixed by calibration.
        overrides: layer name -> (weight format, activation format), e.g. {"fc1": ("int8", "int16")} for W8A16.
        exclude: layer names kept in float.
    """

    weights: str | None = "int8"
    acts: str | None = "int8"
    granularity: str = "channel"
    learn_scales: bool = False
    overrides: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(formats.parse_granularity(self.granularity), (formats.PerTensor, formats.PerChannel)):
            raise UserError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {self.granularity!r}")
        for name in (self.weights, self.acts, *(f for pair in self.overrides.values() for f in pair)):
            parse_format(name)

    def formats_for(self, layer: str) -> tuple[Format | None, Format | None]:
        """Return the (weight, activation) formats of one layer (None = float)."""
        if layer in self.exclude:
            return None, None
        w, a = self.overrides.get(layer, (self.weights, self.acts))
        return parse_format(w), parse_format(a)

    @classmethod
    def for_format(cls, fmt: str, **kwargs) -> "QATConfig":
        """Return a config with `fmt` for weights and activations (W8A8-style presets by format name)."""
        return cls(weights=fmt, acts=fmt, **kwargs)
