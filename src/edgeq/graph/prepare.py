"""Graph preparation before quantization, as a named sequence of small passes (the onnx-ir pass shape).

Each pass edits the graph in place and returns how many places it changed; `prepare` runs them in order and
returns the FP32 baseline model with inferred shapes plus what each pass did (the report lists it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import onnx

from .cleanup import constants_to_initializers, name_nodes, remove_identities
from .fold_bn import fold_batchnorm


@dataclass(frozen=True)
class GraphPass:
    """One in-place graph transform: `fn(graph) -> number of changes` under a stable name."""

    name: str
    fn: Callable[[onnx.GraphProto], int]

    def __call__(self, model: onnx.ModelProto) -> int:
        """Apply the pass to the model's main graph in place; return how many places changed."""
        return int(self.fn(model.graph))


PREPARE_PASSES: tuple[GraphPass, ...] = (
    GraphPass("name_nodes", name_nodes),
    GraphPass("constants_to_initializers", constants_to_initializers),
    GraphPass("remove_identities", remove_identities),
    GraphPass("fold_batchnorm", fold_batchnorm),
)


def run_passes(model: onnx.ModelProto, passes=PREPARE_PASSES) -> dict[str, int]:
    """Apply `passes` in order in place; return pass name -> number of changes (0: the pass did nothing)."""
    return {p.name: p(model) for p in passes}


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return the model with ONNX-inferred shapes, or unchanged when inference fails (custom ops stop it)."""
    try:
        return onnx.shape_inference.infer_shapes(model)
    except Exception:  # best effort: shapes that stay unknown are observed from a run later
        return model


def prepare(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, int]]:
    """Return (the float model after the preparation passes, with inferred shapes; changes per pass)."""
    changes = run_passes(model)
    return infer_shapes(model), changes
