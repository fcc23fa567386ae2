"""Runtime targets: the formats, weight range and bias storage each runtime runs fast and exactly.

`--target` picks a preset; `graph/target_checks.py` checks the written graph against the same target's rules.

- ort-cpu (default): onnxruntime's CPU provider. uint8 asymmetric activations x int8 symmetric per-channel
  weights (its u8s8 kernels, QLinearConv/QGemm after its QDQ fusions), int32 biases. Full-range int8 weights where
  this CPU accumulates int8 products in 32 bits (VNNI, AMX, ARM dot product; `edgeq.cpu`), else a 7-bit weight
  range so the saturating 16-bit pair sums of plain AVX2 stay exact.
- tensorrt: TensorRT's explicit quantization. Symmetric int8 activations with zero point 0, per-channel int8
  weights (output-channel axis), float biases (TensorRT's Q/DQ takes int8/fp8 only and folds the bias itself),
  Q/DQ on the inputs of weighted ops and joins; FP8 is E4M3 (FLOAT8E4M3FN, zero point 0) for both.
- qnn: Qualcomm QNN HTP via onnxruntime's QNN helpers (onnxruntime.quantization.execution_providers.qnn):
  uint8 or uint16 asymmetric activations, int8 symmetric (per-channel) weights, int32 biases; a 16-bit Sigmoid
  output uses scale 1/65536, zero point 0, and Tanh 1/32768, zero point 32768, as QNN requires. No FP8.
- generic: edgeq's portable defaults: uint8 activations and int8 weights in a 7-bit range, exact on every x86
  CPU; any format edgeq knows.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..formats import IntFormat, get_format

TARGETS = ("ort-cpu", "tensorrt", "qnn", "generic")
DEFAULT_TARGET = "ort-cpu"

# preset name -> (weights, activations) per target; targets missing a preset fall back to the generic one
_PRESETS = {
    "tensorrt": {"int8": ("int8", "int8"), "w8a8": ("int8", "int8"), "int4": ("int4", "int8"),
                 "w4a8": ("int4", "int8"), "fp8": ("fp8_e4m3", "fp8_e4m3"), "fp8_e4m3": ("fp8_e4m3", "fp8_e4m3")},
    "qnn": {"int8": ("int8", "uint8"), "w8a8": ("int8", "uint8"), "w8a16": ("int8", "uint16"),
            "int16": ("int8", "uint16"), "int4": ("int4", "uint8"), "w4a8": ("int4", "uint8"),
            "w4a16": ("int4", "uint16")},
}
# formats each runtime's Q/DQ kernels take; None: any
_ALLOWED = {
    "tensorrt": ({"int8", "int4", "fp8_e4m3"}, {"int8", "fp8_e4m3", "float"}),
    "qnn": ({"int8", "int4", "uint8"}, {"uint8", "uint16", "float"}),
}


def parse_target(value: str) -> str:
    """Return the canonical target name for "ort-cpu", "tensorrt", "qnn" or "generic" (ConfigError otherwise)."""
    key = str(value).strip().lower().replace("_", "-")
    if key not in TARGETS:
        raise ConfigError(f"unknown target {value!r}; use one of {', '.join(TARGETS)}")
    return key


def target_formats(target: str, fmt: str) -> tuple[str, str] | None:
    """Return the (weights, activations) a target's preset uses for `fmt`, or None to use the generic preset."""
    return _PRESETS.get(target, {}).get(str(fmt).strip().lower())


def check_formats(target: str, weights, acts) -> None:
    """Raise ConfigError when the target's runtime has no Q/DQ kernel for these weight/activation formats."""
    if target not in _ALLOWED:
        return
    w_ok, a_ok = _ALLOWED[target]
    if weights.name not in w_ok:
        raise ConfigError(f"--target {target} takes weights in {sorted(w_ok)}, not {weights.name}; "
                          "use --target generic for other formats")
    if acts.name not in a_ok:
        raise ConfigError(f"--target {target} takes activations in {sorted(a_ok - {'float'})}, not {acts.name}; "
                          "use --target generic for other formats")


def kernel_safe_default(target: str) -> bool:
    """Return whether 8-bit integer weights are kept in a 7-bit range for this target on this machine."""
    if target == "ort-cpu":
        from ..cpu import int8_kernels

        return not int8_kernels().exact
    return target == "generic"  # TensorRT and QNN kernels accumulate in 32 bits


def int32_bias(target: str) -> bool:
    """Return whether Conv/Gemm biases are stored as int32 at scale s_x * s_w (TensorRT keeps them in float)."""
    return target != "tensorrt"


def fixed_activation(target: str, producer: str, fmt_name: str) -> tuple[float, int] | None:
    """Return the (scale, zero point) a target fixes for an activation produced by `producer`, or None."""
    if target == "qnn" and fmt_name == "uint16":
        return {"Sigmoid": (1.0 / 65536.0, 0), "Tanh": (1.0 / 32768.0, 32768)}.get(producer)
    return None


def output_points_help(config) -> bool:
    """Return whether weighted-op outputs before float ops get Q/DQ (integer CPU kernels; TensorRT fuses itself)."""
    return config.target != "tensorrt" and isinstance(get_format(config.acts), IntFormat)


def target_notes(config) -> list[str]:
    """Return the report's notes about what the target chose (weight range, kernels, portability)."""
    notes = []
    if config.weight_only:
        return notes
    w, a = get_format(config.weights), get_format(config.acts)
    int8_8 = isinstance(w, IntFormat) and w.bits == 8 and isinstance(a, IntFormat) and a.bits == 8
    if config.target == "ort-cpu" and int8_8:
        from ..cpu import int8_kernels

        k = int8_kernels()
        if config.kernel_safe_int8:
            notes.append(f"int8 weights in a 7-bit range ({k.describe()}): onnxruntime's u8s8 kernels would "
                         "saturate 16-bit pair sums with full-range weights")
        else:
            notes.append(f"full-range int8 weights ({k.describe()}); on an x86 CPU without VNNI/AMX onnxruntime "
                         "saturates them: quantize with --target generic for a file exact on every x86 CPU")
    if config.target == "ort-cpu" and not isinstance(a, IntFormat):
        notes.append(f"onnxruntime's CPU provider has no {a.name} kernels: it dequantizes and runs in float "
                     "(exact, not faster than FP32)")
    return notes


def apply_fixed_activations(plan: list, model, target: str) -> list:
    """Return the plan with target-fixed activation parameters (QNN's 16-bit Sigmoid/Tanh) applied."""
    from dataclasses import replace

    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    out = []
    for e in plan:
        fixed = None if e.role != "activation" else fixed_activation(target, producers.get(e.tensor, ""), e.fmt)
        if fixed is not None:
            e = replace(e, scale=np.array(fixed[0], np.float32), zero_point=np.array(fixed[1], np.int64))
        out.append(e)
    return out


__all__ = ["DEFAULT_TARGET", "TARGETS", "apply_fixed_activations", "output_points_help", "check_formats", "fixed_activation",
           "int32_bias", "kernel_safe_default", "parse_target", "target_formats", "target_notes"]
