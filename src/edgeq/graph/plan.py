"""The per-tensor quantization plan: which tensor gets which format, scale, axis and zero point.

A plan is the contract between whoever chooses the numbers (PTQ calibration here, QAT export in `edgeq.qat`) and
the ONNX writer (`edgeq.ptq.export.export_quantized`) and the reference simulation (`edgeq.ptq.reference`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..formats import BlockFormat, IntFormat, fake_quant, get_format

BIAS_INT32 = "int32"
"""Format name of a bias stored as int32 with scale s_x * s_w (what integer Conv/Gemm kernels expect)."""

Role = Literal["weight", "activation", "bias"]
_NUMBA_MIN_SIZE = 1 << 22


@dataclass(frozen=True)
class TensorQuant:
    """How one tensor is quantized.

    Attributes:
        tensor: the ONNX tensor name (an initializer for weights and biases, a node output or graph input for
            activations).
        fmt: format name (`edgeq formats`), or "int32" for a bias in integer kernels.
        scale: float32 scale: a scalar (per tensor), a vector along `axis` (per channel), or an array shaped like
            the tensor with `axis` cut into ceil(n / block_size) blocks. Unused (1.0) for MX formats.
        axis: the channel or block axis (non-negative), None for per tensor.
        block_size: block length along `axis`, None unless per block.
        zero_point: integer zero point(s) shaped like `scale` (integer formats only), None for symmetric.
        role: "weight", "activation" or "bias".
    """

    tensor: str
    fmt: str
    scale: np.ndarray
    axis: int | None = None
    block_size: int | None = None
    zero_point: np.ndarray | None = None
    role: Role = "activation"

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Return x fake-quantized with this entry: exactly the values the exported graph computes."""
        if self.fmt == BIAS_INT32:
            q = np.clip(np.rint(x / self.scale), -(2.0**31) + 1, 2.0**31 - 1).astype(np.float32)
            return (q * self.scale).astype(np.float32)
        fmt = get_format(self.fmt)
        # Both backends give the same bits. Measured: the NumPy twin of the integer kernel beats the parallel Numba
        # one at every size tried (0.01-4M values); the Numba float kernel is 2-4x faster on large arrays but its
        # first call in a process costs about 0.8 s (loading the cached parallel kernel), which NumPy only loses
        # beyond a few million values.
        big = np.asarray(x).size >= _NUMBA_MIN_SIZE and not isinstance(fmt, IntFormat)
        backend = "numba" if big else "numpy"
        if isinstance(fmt, BlockFormat):
            return fake_quant(x, fmt, axis=self.axis, backend=backend)
        return fake_quant(x, fmt, self.scale, self.axis, self.block_size, self.zero_point, backend=backend)

    def describe(self) -> dict:
        """Return a JSON-ready summary (format, granularity, scale statistics)."""
        scale = np.asarray(self.scale, dtype=np.float64)
        out = {"format": self.fmt, "role": self.role, "axis": self.axis, "block_size": self.block_size}
        if scale.size == 1:
            out["scale"] = float(scale.reshape(-1)[0])
        else:
            out["scale_min"], out["scale_max"], out["scale_count"] = float(scale.min()), float(scale.max()), scale.size
        if self.zero_point is not None:
            zp = np.asarray(self.zero_point)
            out["zero_point"] = int(zp.reshape(-1)[0]) if zp.size == 1 else [int(v) for v in zp.reshape(-1)]
        return out
