"""Who to blame: per-op sensitivity (the output SQNR with only that op quantized), from the switchable reference.

Each op alone is one run of the same `ReferenceModel` session with only that op's gates on, over a small subset
of the evaluation feeds: no graph is rebuilt and no session created per op.
"""

from __future__ import annotations

import numpy as np

from ..feeds import FeedSet
from ..metrics import StreamingComparison
from ..progress import progress_bar
from .reference import ReferenceModel

SENSITIVITY_SAMPLES = 32  # ranking ops needs few samples; the full eval set stays for the headline figures


def float_outputs(reference: ReferenceModel, feeds: FeedSet) -> list[np.ndarray]:
    """Return the float model's first output for each feed (all gates off)."""
    return [reference.run(feed)[0][0] for feed in feeds]


def output_sqnr(reference: ReferenceModel, feeds: FeedSet, fp32: list[np.ndarray], gates, select) -> float:
    """Return the first output's SQNR vs `fp32` over the feeds with the given gates and node selections."""
    cmp = StreamingComparison()
    for feed, ref in zip(feeds, fp32):
        cmp.update(ref, reference.run(feed, gates, select)[0][0])
    return cmp.sqnr_db


def op_alone(reference: ReferenceModel, nodes, feeds: FeedSet, progress: bool = False,
             fp32: list[np.ndarray] | None = None) -> dict[str, float]:
    """Return node -> first-output SQNR (dB) vs FP32 with only that node's input activations, weight and bias
    quantized (at rung 1, the plan's formats)."""
    fp32 = fp32 if fp32 is not None else float_outputs(reference, feeds)
    out = {}
    for node in progress_bar(list(nodes), "sensitivity", progress, "op"):
        gates = {a: True for a in node.acts if a in reference.activations}
        select = {node.name: 1} if node.name in reference.variants else {}
        if gates or select:
            out[node.name] = output_sqnr(reference, feeds, fp32, gates, select)
    return out


def amplifying_ops(reference: ReferenceModel, stems, feeds: list, fp32: list[np.ndarray],
                   weight_sqnr: dict[str, float], min_gain_db: float) -> dict[str, dict]:
    """Return node -> {op_alone_db, local_db} for the ops (`stems`) that amplify their own quantization noise.

    An op amplifies when quantizing it alone costs the output `min_gain_db` more than its own quantizers inject
    (local SQNR of its input and weight, `weight_sqnr`), over `feeds` whose float first outputs are `fp32`: a first
    conv over features with a large DC offset, whose
    output cancels most of its input (measured: a speech-embedding CNN, 31 dB local, 11 dB op alone), or a
    filterbank MatMul whose small outputs a Log downstream magnifies.
    """
    pairs = list(feeds)
    out = {}
    for node in stems:
        gates = {a: True for a in node.acts if a in reference.activations}
        select = {node.name: 1} if node.name in reference.variants else {}
        if not gates and not select:
            continue
        cmp, local = StreamingComparison(), StreamingComparison()
        for feed, ref in zip(pairs, fp32):
            outputs, captured = reference.run(feed, gates, select, capture=list(gates))
            cmp.update(ref, outputs[0])
            for a in gates:
                local.update(captured.get(a, feed.get(a)), captured[f"{a}__edgeq_sel"])
        local_db = min(local.sqnr_db, weight_sqnr.get(node.name, float("inf")))
        if cmp.sqnr_db < local_db - min_gain_db:
            out[node.name] = {"op_alone_db": cmp.sqnr_db, "local_db": local_db}
    return out
