"""Staged simulation with Python transforms between stages: for run-time (dynamic) quantization, whose scales a
static graph cannot hold, in `ptq/datafree.py`. Static plans use the one-session `ptq/reference.py`.

The graph is cut at each transformed activation into stages; each stage is a small ORT session (every
optimization off, so no graph rewrite can change numerics) computing one activation from the model inputs, the
parameters and the already-transformed activations before it; between stages a Python function (edgeq's
`dynamic_fake_quant`) transforms the tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..graph.session import ort_session
from ..graph.util import subgraph_inputs

Transform = Callable[[np.ndarray], np.ndarray]
_SUFFIX = "__edgeq_in"


class StagedSimulator:
    """Runs a float model with a transform (quantizer or observer) applied at chosen activation tensors."""

    def __init__(self, model: onnx.ModelProto, points: list[str], params: list[str]):
        """Build one ORT session per stage; `points` are activation tensors, `params` initializers to expose."""
        graph = model.graph
        self.points = list(points)
        self.params = {t.name: numpy_helper.to_array(t) for t in graph.initializer if t.name in set(params)}
        self.input_names = [i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}]
        self.output_names = [o.name for o in graph.output]
        order = {o: k for k, n in enumerate(graph.node) for o in n.output}
        graph_inputs = set(self.input_names)
        self.points.sort(key=lambda p: order.get(p, -1) if p not in graph_inputs else -1)
        point_set = set(self.points)
        nodes = []
        for node in graph.node:  # every reader of a point reads its transformed twin instead
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            for i, name in enumerate(copy.input):
                if name in point_set:
                    copy.input[i] = name + _SUFFIX
            nodes.append(copy)
        self._nodes = nodes
        self._model = model
        self._inits = {t.name: t for t in graph.initializer}
        self.stages: list[tuple[list[str], list[str], object | None]] = []
        for p in self.points:
            if p in graph_inputs:
                self.stages.append(([p], [p], None))
            else:
                self.stages.append(self._stage([p]))
        self.stages.append(self._stage(self.output_names))

    def _stage(self, targets: list[str]):
        made_by = {o: k for k, n in enumerate(self._nodes) for o in n.output}
        needed, picked, seen = list(targets), set(), set()
        feeds: set[str] = set()
        while needed:
            name = needed.pop()
            if name in seen or not name:
                continue
            seen.add(name)
            k = made_by.get(name)
            if k is None:
                feeds.add(name)
            elif k not in picked:
                picked.add(k)
                needed.extend(list(self._nodes[k].input) + sorted(subgraph_inputs(self._nodes[k])))
        picked = [self._nodes[k] for k in sorted(picked)]
        inputs, inits = [], []
        for name in sorted(feeds):
            if name in self._inits and name not in self.params:
                inits.append(self._inits[name])
            else:
                inputs.append(self._value_info(name))
        outputs = [self._value_info(t, output=True) for t in targets]
        g = helper.make_graph(picked, "stage", inputs, outputs, inits)
        m = helper.make_model(g, opset_imports=self._model.opset_import, ir_version=self._model.ir_version)
        sess = ort_session(m, "reference", what="the float model")
        return [i.name for i in inputs], list(targets), sess

    def _value_info(self, name: str, output: bool = False):
        base = name.removesuffix(_SUFFIX)
        g = self._model.graph
        for v in list(g.input) + list(g.output):
            if v.name == base:
                info = onnx.ValueInfoProto()
                info.CopyFrom(v)
                info.name = name
                return info
        if base in self.params:
            arr = self.params[base]
            return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), arr.shape)
        return helper.make_tensor_value_info(name, self._elem_type(base), None)

    def _elem_type(self, name: str) -> int:
        for v in self._model.graph.value_info:
            if v.name == name:
                return v.type.tensor_type.elem_type
        return TensorProto.FLOAT

    def run(
        self,
        feeds: Mapping[str, np.ndarray],
        transforms: Mapping[str, Transform] | None = None,
        params: Mapping[str, np.ndarray] | None = None,
        capture: bool = False,
    ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Return (model outputs, transformed point values if `capture`) for one batch.

        `transforms` maps a point to a function applied to its value (missing: identity); `params` replaces
        initializer values (e.g. fake-quantized weights); missing ones keep the model's values.
        """
        transforms = transforms or {}
        values: dict[str, np.ndarray] = {**self.params, **(params or {}), **feeds}
        captured: dict[str, np.ndarray] = {}
        for (inputs, targets, sess), point in zip(self.stages, self.points + [None]):
            if point is not None and sess is None:
                value = values[point]
            else:
                result = sess.run(targets, {n: values[n] for n in inputs})
                if point is None:
                    return result, captured
                value = result[0]
            fn = transforms.get(point)
            value = fn(value) if fn is not None else value
            values[point + _SUFFIX] = value
            if capture:
                captured[point] = value
        raise AssertionError("unreachable: the last stage returns")


def run_all(sim: StagedSimulator, data, batch: int, transforms=None, params=None) -> np.ndarray:
    """Return the simulator's first output over all samples, in batches."""
    from ..data import batches

    return np.concatenate([sim.run(b, transforms, params)[0][0] for b in batches(data, batch)])
