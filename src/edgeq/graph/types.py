"""Fill in what ONNX type inference leaves unknown from one run of the model: element types.

Real models often defeat static inference (shapes computed at run time, custom domains, old opsets); onnxruntime
runs them anyway. One run on one calibration feed with every unknown node output fetched tells its type; it is
written as value_info so every later step (which tensors are float, what to quantize) sees it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import helper

from .session import ort_session


def _known(model: onnx.ModelProto) -> set[str]:
    g = model.graph
    infos = list(g.value_info) + list(g.input) + list(g.output)
    return {v.name for v in infos if v.type.tensor_type.elem_type} | {t.name for t in g.initializer}


def resolve_types(model: onnx.ModelProto, feed: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """Return the model with value_info for every top-level tensor whose type inference left unknown (in place)."""
    known = _known(model)
    missing = [o for n in model.graph.node for o in n.output if o and o not in known]
    if not missing:
        return model
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    outputs = {o.name for o in probe.graph.output}
    for name in missing:
        if name not in outputs:
            info = onnx.ValueInfoProto()
            info.name = name
            probe.graph.output.append(info)
    sess = ort_session(probe, "ort_disable_all", what="the float model")
    values = sess.run(missing, dict(feed))
    for name, value in zip(missing, values):
        value = np.asarray(value)
        if value.dtype == object:  # sequences and maps: leave them to the runtime
            continue
        elem = helper.np_dtype_to_tensor_dtype(value.dtype)
        # the type only: shapes may change with the feed (batch, sequence length)
        model.graph.value_info.append(helper.make_tensor_value_info(name, elem, None))
    return model
