"""What an ONNX model asks of hardware: per layer the MACs, weights, activations and the weight matrix shape, read
from the graph after ONNX shape inference (dynamic batch dimensions taken as `batch`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import onnx
from onnx import TensorProto, shape_inference

from edgeq.errors import UserError
from edgeq.graph.load import load_model as read_onnx
from edgeq.graph.session import ort_session

MATRIX_OPS = ("Conv", "Gemm", "MatMul", "ConvTranspose", "LSTM", "GRU", "RNN")
ACTIVATION_OPS = ("Sigmoid", "Tanh", "Exp", "Softmax", "Gelu", "Erf", "HardSigmoid", "Softplus", "Log", "Elu",
                  "Selu", "LogSoftmax", "HardSwish", "Mish")
# ops that cost nothing on an accelerator: folded at compile time or pure views/metadata
FREE_OPS = ("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Constant", "Shape", "QuantizeLinear",
            "DequantizeLinear", "Cast", "Dropout")
# ONNX element types of quantized tensors -> edgeq format names (what a QDQ graph tells about its precision)
ONNX_DTYPE_FORMATS = {
    TensorProto.INT8: "int8", TensorProto.UINT8: "uint8", TensorProto.INT16: "int16", TensorProto.UINT16: "uint16",
    TensorProto.FLOAT8E4M3FN: "fp8_e4m3", TensorProto.FLOAT8E5M2: "fp8_e5m2",
    TensorProto.FLOAT8E4M3FNUZ: "fp8_e4m3fnuz", TensorProto.FLOAT8E5M2FNUZ: "fp8_e5m2fnuz",
    TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16", TensorProto.FLOAT: "fp32",
}
for _name, _fmt in (("INT4", "int4"), ("UINT4", "uint4")):
    if hasattr(TensorProto, _name):
        ONNX_DTYPE_FORMATS[getattr(TensorProto, _name)] = _fmt
# per hidden unit and step: (gates' count, activations on MVM outputs, other activations, elementwise ops)
_RECURRENT = {"LSTM": (4, 4, 1, 4), "GRU": (3, 2, 1, 4), "RNN": (1, 1, 0, 0)}


@dataclass(frozen=True)
class Layer:
    """One node's work: MACs, weight elements, input/output activation elements, and for matrix ops the weight
    matrix it needs as k_rows x n_cols per group and how many input vectors pass through it. nl_on_mvm counts
    activation-function evaluations applied straight to MVM outputs (what a nonlinear ramp ADC can absorb, e.g.
    LSTM gates), nl_other the remaining activation evaluations, elementwise the other simple ops (adds, products,
    ReLU, pooling) per inference. weight_fmt / act_fmt: the formats a QDQ graph quantizes this layer's weight and
    input to (None when the graph does not say)."""

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
    nl_on_mvm: int = 0
    nl_other: int = 0
    elementwise: int = 0
    weight_fmt: str | None = None
    act_fmt: str | None = None

    @property
    def is_matrix(self) -> bool:
        return self.macs > 0


def load_model(model_or_path) -> onnx.ModelProto:
    """Return an ONNX model from a path or a ModelProto, read as it is (edgeq's one loader, without the checker)."""
    return read_onnx(model_or_path, check=False)


def _elem_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = shape_inference.infer_shapes(model)
    types = {vi.name: vi.type.tensor_type.elem_type
             for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output)}
    types.update({init.name: init.data_type for init in model.graph.initializer})
    return types


class _Graph:
    """Producers, constants and element types of a graph: which tensors are static and what a QDQ pair says."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.inits = {i.name for i in model.graph.initializer}
        self.producer = {out: node for node in model.graph.node for out in node.output}
        self.types = _elem_types(model)

    def is_static(self, name: str) -> bool:
        """Return True when a tensor is a constant or computed only from constants by free ops (e.g. DQ(W))."""
        seen = 0
        while seen < 16:
            if name in self.inits:
                return True
            node = self.producer.get(name)
            if node is None:
                return False
            if node.op_type == "Constant":
                return True
            if node.op_type not in FREE_OPS or not node.input:
                return False
            name, seen = node.input[0], seen + 1
        return False

    def quantized_format(self, name: str) -> str | None:
        """Return the format of the quantized tensor a DequantizeLinear turns into `name`, if there is one."""
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            return None
        return ONNX_DTYPE_FORMATS.get(self.types.get(node.input[0], 0))


def _shapes(model: onnx.ModelProto, batch: int) -> dict[str, tuple[int, ...]]:
    inferred = shape_inference.infer_shapes(model)
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
        if dims and dims[0] is None:
            dims[0] = batch  # a dynamic leading axis is the batch
        if None not in dims:  # any other unknown size: unsized (a run sizes it), never guessed
            shapes[vi.name] = tuple(dims)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def run_shapes(model: onnx.ModelProto, feeds: dict[str, np.ndarray] | None, batch: int) -> dict[str, tuple]:
    """Return every tensor's shape from one onnxruntime run: on `feeds`, or on zeros when the inputs' shapes are
    static apart from the batch axis; UserError when neither is possible."""

    inits = {i.name for i in model.graph.initializer}
    if feeds is None:
        feeds = {}
        for inp in (i for i in model.graph.input if i.name not in inits):
            dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                    for d in inp.type.tensor_type.shape.dim]
            if None in dims[1:]:
                raise UserError(f"input {inp.name!r} has unknown sizes {dims} and ONNX shape inference cannot size "
                                "the model; pass sample inputs (edgeq simulate uses --eval) or give it static shapes")
            dims = [batch if d is None else d for d in dims]
            elem = onnx.helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type)
            feeds[inp.name] = np.zeros(dims, dtype=elem)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.ValueInfoProto(name=out) for node in probe.graph.node for out in node.output
                              if out and out not in known)
    try:
        sess = ort_session(probe, "ort_disable_all", what="the model")  # optimizations off: every node's output
        names = [o.name for o in sess.get_outputs()]
        values = sess.run(names, feeds)
    except Exception as err:  # onnxruntime's own exception types; the first line says what is wrong
        raise UserError(f"cannot size the model by running it: {' '.join(str(err).split())[:300]}") from None
    shapes = {name: tuple(np.shape(v)) for name, v in zip(names, values)}
    shapes.update((name, tuple(v.shape)) for name, v in feeds.items())
    return shapes


def _n(shape) -> int:
    return int(np.prod(shape)) if shape is not None else 0


def extract_layers(model_or_path, batch: int = 1, feeds: dict[str, np.ndarray] | None = None) -> list[Layer]:
    """Return one Layer per node of the model (matrix ops with MACs, other ops with their element counts).

    Shapes come from ONNX shape inference; where it leaves a matrix op unsized, from a run of the model on `feeds`
    (one inference's inputs) or, without them, on zeros when the inputs are static apart from the batch axis.
    """
    model = load_model(model_or_path)
    shapes = _shapes(model, batch)
    graph = _Graph(model)
    unsized = [node for node in model.graph.node if node.op_type in MATRIX_OPS
               and any(shapes.get(x) is None for x in [*node.input[:2], node.output[0]] if x)]
    if unsized:
        shapes.update(run_shapes(model, feeds, batch))
    layers = []
    for i, node in enumerate(model.graph.node):
        name = node.name or f"{node.op_type}_{i}"
        ins = [shapes.get(x) for x in node.input if x]
        outs = [shapes.get(x) for x in node.output if x]
        in_elems = sum(_n(s) for x, s in zip([x for x in node.input if x], ins) if not graph.is_static(x))
        out_elems = sum(_n(s) for s in outs)
        if node.op_type in MATRIX_OPS and any(s is None for s in ins[:2] + outs[:1]):
            raise UserError(f"node {name}: shapes unknown after ONNX shape inference and a run; give the model "
                            "static shapes")
        if node.op_type == "Conv":
            w, y = ins[1], outs[0]
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            k = int(np.prod(w[1:]))
            vectors = y[0] * int(np.prod(y[2:]))
            macs = vectors * w[0] * k
            wel = _n(w) + (_n(ins[2]) if len(ins) > 2 else 0)
            layers.append(Layer(name, "Conv", macs, wel, in_elems, out_elems, k, w[0] // group, group,
                                vectors, graph.is_static(node.input[1])))
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
            static = graph.is_static(node.input[1])
            wel = (_n(b) if static else 0) + (_n(ins[2]) if len(ins) > 2 and graph.is_static(node.input[2]) else 0)
            act_in = in_elems
            layers.append(Layer(name, node.op_type, macs, wel, act_in, out_elems, k, n, 1, vectors, static))
        elif node.op_type == "ConvTranspose":
            w, x = ins[1], ins[0]
            k = w[0]
            vectors = x[0] * int(np.prod(x[2:]))
            macs = vectors * k * int(np.prod(w[1:]))
            layers.append(Layer(name, "ConvTranspose", macs, _n(w), in_elems, out_elems, k,
                                int(np.prod(w[1:])), 1, vectors, graph.is_static(node.input[1])))
        elif node.op_type in _RECURRENT:
            layers.append(_recurrent(name, node, ins, in_elems, out_elems, graph.is_static(node.input[1])))
        elif node.op_type in FREE_OPS:
            layers.append(Layer(name, node.op_type, 0, 0, in_elems, out_elems))
        elif node.op_type in ACTIVATION_OPS:
            layers.append(Layer(name, node.op_type, 0, 0, in_elems, out_elems, nl_other=out_elems))
        else:
            layers.append(Layer(name, node.op_type, 0, 0, in_elems, out_elems, elementwise=out_elems))
    layers = [_with_qdq_formats(layer, node, graph) for layer, node in zip(layers, model.graph.node)]
    if not any(layer.is_matrix for layer in layers):
        raise UserError("the model has no Conv/Gemm/MatMul node; nothing for a MAC cost model to count")
    return layers


def _with_qdq_formats(layer: Layer, node, graph: _Graph) -> Layer:
    if not layer.is_matrix or len(node.input) < 2:
        return layer
    w, a = graph.quantized_format(node.input[1]), graph.quantized_format(node.input[0])
    if w is None and a is None:
        return layer
    return replace(layer, weight_fmt=w, act_fmt=a)


def _recurrent(name: str, node, ins, in_elems: int, out_elems: int, static: bool) -> Layer:
    """Return the Layer of an ONNX LSTM/GRU/RNN: per step and direction one [x, h] x [gates*H] MVM."""
    gates, on_mvm, other, elementwise = _RECURRENT[node.op_type]
    layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
    x, w = ins[0], ins[1]
    seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
    dirs, hidden, inputs = w[0], w[1] // gates, w[2]
    vectors = seq * batch
    k = inputs + hidden
    macs = dirs * vectors * gates * hidden * k
    weights = _n(w) + _n(ins[2]) + (_n(ins[3]) if len(ins) > 3 and ins[3] is not None else 0)
    steps = dirs * vectors * hidden
    return Layer(name, node.op_type, macs, weights, in_elems, out_elems, k, gates * hidden, dirs, vectors, static,
                 nl_on_mvm=steps * on_mvm, nl_other=steps * other, elementwise=steps * elementwise)


def total_macs(layers: list[Layer]) -> int:
    """Return the MACs of all layers."""
    return int(sum(layer.macs for layer in layers))




__all__ = ["Layer", "extract_layers", "load_model", "run_shapes", "total_macs"]
