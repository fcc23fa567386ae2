"""Public export entry points: write a per-tensor quantization plan into an ONNX graph, and check it in onnxruntime.

For QAT (issue 9) and anyone who chose scales elsewhere::

    from edgeq.ptq.export import TensorQuant, export_quantized, reference_outputs, check_fidelity

    plan = [
        TensorQuant("conv1.weight", "int8", scales, axis=0, role="weight"),
        TensorQuant("image", "uint8", np.float32(1 / 255), zero_point=np.int64(0)),
        TensorQuant("fc.weight", "fp8_e4m3", np.float32(0.01), role="weight"),
    ]
    model_q, stored_bytes = export_quantized(float_model, plan)
    reference = reference_outputs(float_model, plan, {"image": x})
    fidelity, outputs = check_fidelity(model_q, reference, {"image": x})   # {"ort_default": ModeFidelity, ...}

Native formats (int8/uint8/int16/uint16/int4/uint4, FP8 E4M3FN/E5M2 and their FNUZ twins) become
QuantizeLinear/DequantizeLinear (opset 19 for FP8, 21 for 4/16-bit and block scales); every other format becomes
an exact fake-quant pattern of standard ops. Relu/Clip are written as Max/Min when a range includes negatives.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx

from ..feeds import open_feeds
from ..graph.plan import BIAS_INT32, TensorQuant
from ..graph.qdq import export_quantized, required_opset
from .runtime import ModeFidelity, check_fidelity
from .reference import NodeVariants, ReferenceModel


def reference_outputs(float_model: onnx.ModelProto, plan: list[TensorQuant], data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return edgeq's reference simulation of the plan on `data`: the first model output for every sample."""
    acts = [e for e in plan if e.role == "activation"]
    params = {e.tensor: e for e in plan if e.role != "activation"}
    variants = [NodeVariants(f"w:{t}", (t,), (e.fmt,), ({t: e},)) for t, e in params.items()]
    reference = ReferenceModel(float_model, acts, variants)
    gates, select = reference.all_on()
    feeds = open_feeds(dict(data), float_model, "reference", batch=256)
    return np.concatenate([reference.run(feed, gates, select)[0][0] for feed in feeds])


__all__ = [
    "BIAS_INT32",
    "ModeFidelity",
    "TensorQuant",
    "check_fidelity",
    "export_quantized",
    "reference_outputs",
    "required_opset",
]
