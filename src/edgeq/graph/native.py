"""Which formats ONNX QuantizeLinear/DequantizeLinear carry natively, with their tensor types and numpy dtypes."""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx import TensorProto

from ..formats import IntFormat, get_format

# format name -> (ONNX element type, numpy dtype of the stored codes, smallest opset that has it in Q/DQ)
_NATIVE: dict[str, tuple[int, type, int]] = {
    "int8": (TensorProto.INT8, np.int8, 13),
    "uint8": (TensorProto.UINT8, np.uint8, 13),
    "int16": (TensorProto.INT16, np.int16, 21),
    "uint16": (TensorProto.UINT16, np.uint16, 21),
    "int4": (TensorProto.INT4, ml_dtypes.int4, 21),
    "uint4": (TensorProto.UINT4, ml_dtypes.uint4, 21),
    "fp8_e4m3": (TensorProto.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn, 19),
    "fp8_e5m2": (TensorProto.FLOAT8E5M2, ml_dtypes.float8_e5m2, 19),
    "fp8_e4m3fnuz": (TensorProto.FLOAT8E4M3FNUZ, ml_dtypes.float8_e4m3fnuz, 19),
    "fp8_e5m2fnuz": (TensorProto.FLOAT8E5M2FNUZ, ml_dtypes.float8_e5m2fnuz, 19),
}


def native_activation(fmt_name: str) -> tuple[int, type, int] | None:
    """Return (ONNX type, numpy dtype, min opset) when Q/DQ executes this format exactly, else None."""
    return _NATIVE.get(get_format(fmt_name).name)


def native_weight(fmt_name: str) -> tuple[int, type, int] | None:
    """Return the Q/DQ storage for a weight format: integers narrower than a native type fit in the next one up.

    Weights are constants, so an int7 weight is exactly an int8 DequantizeLinear whose codes stay in [-64, 63].
    """
    fmt = get_format(fmt_name)
    if isinstance(fmt, IntFormat):
        for bits in (4, 8, 16):
            if fmt.bits <= bits:
                return _NATIVE[f"{'' if fmt.signed else 'u'}int{bits}"]
        return None
    return _NATIVE.get(fmt.name)


__all__ = ["native_activation", "native_weight"]
