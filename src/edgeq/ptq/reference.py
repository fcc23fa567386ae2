"""edgeq's reference simulation as ONE onnxruntime graph, and the float model with observation outputs.

`ObservedModel` is the float model with chosen intermediate tensors added as outputs: calibration and the FP32
side of every comparison read their values from one session run per feed.

`ReferenceModel` is the float model with edgeq's quantization written in, each part switchable at run time:
- every planned activation t becomes Where(gate_t, fake_quant(t), t), with fake_quant as the exact pattern of
  standard float ops (`graph.fake_quant_pattern`: every step exact in float32, so it computes bit for bit what
  `edgeq.formats.fake_quant` computes) and gate_t a bool graph input;
- every quantized node's weight (and bias) becomes a Where chain over variants selected by an int64 graph input:
  0 = float, k = the k-th format of the node's precision ladder, values computed by edgeq's own kernels.
So one session serves the whole quantized run, each op alone (sensitivity), and every mixed-precision candidate,
with every graph optimization off so no rewrite can change the numerics. Memory: one extra copy of the weights
per variant; activations of one feed at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..graph.fake_quant_pattern import activation_pattern
from ..graph.plan import TensorQuant
from ..graph.util import splice_nodes
from ..graph.session import ort_session

GATE = "edgeq_gate__"
SELECT = "edgeq_select__"


def _typeless_output(name: str) -> onnx.ValueInfoProto:
    info = onnx.ValueInfoProto()
    info.name = name  # onnxruntime fills in type and shape of an output it computes
    return info


class ObservedModel:
    """The float model with extra outputs: run a feed, get the model outputs and the observed tensors."""

    def __init__(self, model: onnx.ModelProto, observe: Sequence[str], mode: str = "ort_disable_all"):
        """Build one session of `model` that also outputs every tensor in `observe` (graph inputs are echoed)."""
        self.output_names = [o.name for o in model.graph.output]
        inputs = {i.name for i in model.graph.input}
        self.observe = list(dict.fromkeys(observe))
        self._echo = [t for t in self.observe if t in inputs]
        extra = [t for t in self.observe if t not in inputs and t not in self.output_names]
        m = onnx.ModelProto()
        m.CopyFrom(model)
        m.graph.output.extend(_typeless_output(t) for t in extra)
        self._fetch = self.output_names + extra
        self.session = ort_session(m, mode, what="the float model")

    def run(self, feed: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Return (model outputs, observed tensor -> value) for one feed."""
        values = self.session.run(self._fetch, dict(feed))
        named = dict(zip(self._fetch, values))
        observed = {t: named[t] if t in named else feed[t] for t in self.observe}
        return values[: len(self.output_names)], observed


@dataclass(frozen=True)
class NodeVariants:
    """The precision ladder of one node: for each rung k >= 1, its format and the entries of its weight and bias.

    Rung 0 is float. A tensor of `tensors` missing from a rung's entries stays float at that rung (e.g. a bias
    kept in float beside FP8 weights).
    """

    node: str
    tensors: tuple[str, ...]
    formats: tuple[str, ...]
    entries: tuple[dict[str, TensorQuant], ...]


class ReferenceModel:
    """The float model with switchable, exact fake quantization: activations gated, weights selected by variant."""

    def __init__(self, model: onnx.ModelProto, activations: Sequence[TensorQuant], variants: Sequence[NodeVariants],
                 capture: bool = False):
        """Build the graph and its session; with `capture`, each gated activation is also an output (t and its
        quantized twin), for per-tensor SQNR and local noise."""
        self.output_names = [o.name for o in model.graph.output]
        self.activations = {e.tensor: e for e in activations}
        self.variants = {v.node: v for v in variants}
        m, self.captured = _build(model, activations, variants, capture)
        self.session = ort_session(m, "ort_disable_all", what="edgeq's reference graph")
        self._captured_set = set(self.captured)

    def run(self, feed: Mapping[str, np.ndarray], gates: Mapping[str, bool] | None = None,
            select: Mapping[str, int] | None = None,
            capture: Sequence[str] | None = ()) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Return (model outputs, captured tensor -> value) with the given activation gates and node variants.

        Missing gates are off and missing selections are 0 (float): `run(feed)` is the float model. `capture`
        names the activations whose value (and quantized twin) to return, None for all of them; onnxruntime only
        computes what the requested outputs need, so capturing less is faster.
        """
        gates = gates or {}
        select = select or {}
        full = dict(feed)
        for t in self.activations:
            full[GATE + t] = np.array(bool(gates.get(t, False)))
        for node in self.variants:
            full[SELECT + node] = np.array(int(select.get(node, 0)), dtype=np.int64)
        wanted = self.captured if capture is None else [
            c for t in capture for c in (t, f"{t}__edgeq_sel") if c in self._captured_set]
        values = self.session.run(self.output_names + wanted, full)
        return values[: len(self.output_names)], dict(zip(wanted, values[len(self.output_names):]))

    def all_on(self, variant: int = 1) -> tuple[dict[str, bool], dict[str, int]]:
        """Return (gates, selections) that quantize everything at the given ladder rung (1 = the plan's formats)."""
        return dict.fromkeys(self.activations, True), dict.fromkeys(self.variants, variant)


def _build(model, activations, variants, capture):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    graph = m.graph
    del graph.value_info[:]  # tensors are renamed below; stale shapes would only mislead
    inits = {t.name: t for t in graph.initializer}
    graph_inputs = {i.name for i in graph.input}
    renamed: dict[str, str] = {}
    head, new_inits, captured = [], [], []
    after: dict[str, list[onnx.NodeProto]] = {}
    for entry in activations:
        t = entry.tensor
        fq, sel, gate = f"{t}__edgeq_fq", f"{t}__edgeq_sel", GATE + t
        nodes, extra = activation_pattern(t, fq, entry)
        nodes.append(helper.make_node("Where", [gate, fq, t], [sel], name=f"{t}__edgeq_gate"))
        after.setdefault(t, []).extend(nodes)
        new_inits.extend(extra)
        graph.input.append(helper.make_tensor_value_info(gate, TensorProto.BOOL, []))
        renamed[t] = sel
        if capture:
            captured += ([] if t in graph_inputs else [t]) + [sel]
    for v in variants:
        selector = SELECT + v.node
        graph.input.append(helper.make_tensor_value_info(selector, TensorProto.INT64, []))
        for k in range(1, len(v.entries) + 1):
            new_inits.append(numpy_helper.from_array(np.array(k, np.int64), f"{selector}__k{k}"))
            head.append(helper.make_node("Equal", [selector, f"{selector}__k{k}"], [f"{selector}__is{k}"],
                                         name=f"{selector}__is{k}"))
        for t in v.tensors:
            if t in renamed:  # a weight shared by two nodes follows the first node's selector
                continue
            value = numpy_helper.to_array(inits[t]).astype(np.float32)
            chosen = t
            for k, entries in enumerate(v.entries, start=1):
                entry = entries.get(t)
                q_name, out = f"{t}__edgeq_v{k}", f"{t}__edgeq_s{k}"
                new_inits.append(numpy_helper.from_array(entry.apply(value) if entry else value, q_name))
                head.append(helper.make_node("Where", [f"{selector}__is{k}", q_name, chosen], [out], name=out))
                chosen = out
            renamed[t] = chosen
    graph.initializer.extend(new_inits)
    splice_nodes(graph, head, after, renamed, list(graph_inputs) + list(inits))
    outputs = {o.name for o in graph.output}
    graph.output.extend(_typeless_output(t) for t in captured if t not in outputs)
    return m, captured
