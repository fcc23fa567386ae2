"""What an ONNX model asks of hardware: per layer the MACs, weights, activations and the weight matrix shape, read
from the graph after ONNX shape inference (dynamic batch dimensions taken as `batch`)."""

from __future__ import annotations


from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference

from edgeq.errors import UserError

MATRIX_OPS = ("Conv", "Gemm", "MatMul", "ConvTranspose")


@dataclass(frozen=True)
class Layer:
    """One node's work: MACs, weight elements, input/output activation elements, and for matrix ops the weight
    matrix it needs as k_rows x n_cols per group and how many input vectors pass through it."""

    name: str
    op: str
    macs: int
    weight_elems: int
    in_elems: int
    out_elems: int
    k_rows: int = 0
    n_cols: int = 0
    groups: int = 1
    vectors: int = 0
    static_weights: bool = True

    @property
    def is_matrix(self) -> bool:
        return self.macs > 0


def load_model(model_or_path) -> onnx.ModelProto:
    """Return an ONNX model from a path or a ModelProto; UserError if unreadable."""
    if isinstance(model_or_path, onnx.ModelProto):
        return model_or_path
    path = Path(model_or_path)
    if not path.exists():
        raise UserError(f"model {path} does not exist; pass a path to an .onnx file")
    try:
        return onnx.load(str(path))
    except Exception as err:  # onnx raises several protobuf/decode types
        raise UserError(f"cannot read {path} as ONNX ({err}); export the model with torch.onnx.export") from None


def _shapes(model: onnx.ModelProto, batch: int) -> dict[str, tuple[int, ...]]:
    inferred = shape_inference.infer_shapes(model)
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = []
        for d in tt.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else batch)
        shapes[vi.name] = tuple(dims)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _n(shape) -> int:
    return int(np.prod(shape)) if shape is not None else 0


def extract_layers(model_or_path, batch: int = 1) -> list[Layer]:
    """Return one Layer per node of the model (matrix ops with MACs, other ops with their element counts)."""
    model = load_model(model_or_path)
    shapes = _shapes(model, batch)
    inits = {i.name for i in model.graph.initializer}
    layers = []
    for i, node in enumerate(model.graph.node):
        name = node.name or f"{node.op_type}_{i}"
        ins = [shapes.get(x) for x in node.input if x]
        outs = [shapes.get(x) for x in node.output if x]
        in_elems = sum(_n(s) for x, s in zip([x for x in node.input if x], ins) if x not in inits)
        out_elems = sum(_n(s) for s in outs)
        if node.op_type in MATRIX_OPS and any(s is None for s in ins[:2] + outs[:1]):
            raise UserError(f"node {name}: shapes unknown after ONNX shape inference; give the model static shapes")
        if node.op_type == "Conv":
            w, y = ins[1], outs[0]
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            k = int(np.prod(w[1:]))
            vectors = y[0] * int(np.prod(y[2:]))
            macs = vectors * w[0] * k
            wel = _n(w) + (_n(ins[2]) if len(ins) > 2 else 0)
            layers.append(Layer(name, "Conv", macs, wel, in_elems, out_elems, k, w[0] // group, group,
                                vectors, node.input[1] in inits))
        elif node.op_type in ("Gemm", "MatMul"):
            a, b = ins[0], ins[1]
            trans_b = next((a_.i for a_ in node.attribute if a_.name == "transB"), 0) if node.op_type == "Gemm" else 0
            trans_a = next((a_.i for a_ in node.attribute if a_.name == "transA"), 0) if node.op_type == "Gemm" else 0
            k = a[-2] if trans_a else a[-1]
            n = b[-2] if trans_b else b[-1]
            vectors = _n(a) // k
            if len(b) > 2:  # batched matmul of two activations
                vectors = _n(outs[0]) // n
            macs = vectors * k * n
            static = node.input[1] in inits
            wel = (_n(b) if static else 0) + (_n(ins[2]) if len(ins) > 2 and node.input[2] in inits else 0)
            act_in = in_elems
            layers.append(Layer(name, node.op_type, macs, wel, act_in, out_elems, k, n, 1, vectors, static))
        elif node.op_type == "ConvTranspose":
            w, x = ins[1], ins[0]
            k = w[0]
            vectors = x[0] * int(np.prod(x[2:]))
            macs = vectors * k * int(np.prod(w[1:]))
            layers.append(Layer(name, "ConvTranspose", macs, _n(w), in_elems, out_elems, k,
                                int(np.prod(w[1:])), 1, vectors, node.input[1] in inits))
        else:
            layers.append(Layer(name, node.op_type, 0, 0, in_elems, out_elems))
    if not any(layer.is_matrix for layer in layers):
        raise UserError("the model has no Conv/Gemm/MatMul node; nothing for a MAC cost model to count")
    return layers


def total_macs(layers: list[Layer]) -> int:
    """Return the MACs of all layers."""
    return int(sum(layer.macs for layer in layers))




__all__ = ["Layer", "extract_layers", "load_model", "total_macs"]
