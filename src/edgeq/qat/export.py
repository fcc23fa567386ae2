"""Export a QAT model to the ONNX form `edgeq quantize` writes, through its plan exporter, and check it in ORT.

The trained float graph comes from torch's exporter with parameter names kept; each quantized layer becomes two
plan entries (its weight with the trained scale, its input activation with the calibrated / learned scale), and
`edgeq.graph.qdq.export_quantized` writes QDQ for formats runtimes execute and exact fake-quant ops for the rest.
The QAT model's own forward pass is the reference of the runtime-fidelity check.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
import torch
from torch import nn

from ..errors import UserError
from ..formats.spec import BlockFormat
from ..graph.load import load_model
from ..metrics import sqnr_db, top1_agreement
from ..ptq.export import ModeFidelity, TensorQuant, check_fidelity, export_quantized, reference_outputs
from .prepare import float_model, quant_layers


@dataclass
class QATExport:
    """An exported QAT model: the ONNX graph, its plan, and how it reproduces the QAT forward pass.

    `fidelity` has one entry per onnxruntime mode (default optimisations, none) against the QAT model's torch
    forward; `simulation` compares edgeq's own reference simulation of the plan (what `edgeq quantize` trusts)
    with the same torch forward, closing the three-way check: torch QAT = edgeq simulation = each ORT mode.
    """

    model: onnx.ModelProto
    plan: list[TensorQuant]
    fidelity: dict[str, ModeFidelity]
    simulation: ModeFidelity
    stored_bytes: dict[str, int]


def float_onnx(model: nn.Module, example: torch.Tensor, input_name: str = "input",
               output_name: str = "output") -> onnx.ModelProto:
    """Return the float ONNX graph of a (prepared or plain) torch model, parameter names kept, batch dynamic."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns it is legacy; it keeps names, we need them
        torch.onnx.export(
            float_model(model).eval(), example, buf, input_names=[input_name], output_names=[output_name],
            dynamic_axes={input_name: {0: "N"}, output_name: {0: "N"}}, opset_version=17, dynamo=False,
            do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
        )
    return load_model(buf.getvalue(), check=False)


def qat_plan(model: nn.Module, graph: onnx.ModelProto) -> list[TensorQuant]:
    """Return the per-tensor plan of a prepared model, tensor names resolved in its exported float graph."""
    consumers = {}
    for node in graph.graph.node:
        for name in node.input[1:2]:
            consumers[name] = node
    plan = []
    for name, layer in quant_layers(model).items():
        weight_name = f"{name}.weight"
        node = consumers.get(weight_name)
        if node is None:
            raise UserError(f"layer {name}: no ONNX node takes {weight_name} as its weight; is it used in forward()?")
        w = layer.layer.weight.detach()
        wq, aq = layer.weight_quant, layer.input_quant
        if wq is not None:
            plan.append(_entry(weight_name, wq, w, "weight", 1))
        if aq is not None:
            plan.append(_entry(node.input[0], aq, None, "activation", 1 if node.op_type == "Conv" else -1))
    return plan


def _entry(tensor: str, quantizer, value, role: str, block_axis: int) -> TensorQuant:
    fmt = quantizer.fmt
    if isinstance(fmt, BlockFormat):
        return TensorQuant(tensor, fmt.name, np.float32(1.0), axis=block_axis if block_axis >= 0 else None, role=role)
    scale = quantizer.current_scale(value).detach().abs().numpy().astype(np.float32)
    axis = quantizer.axis if scale.ndim else None
    return TensorQuant(tensor, fmt.name, scale if scale.ndim else np.float32(scale), axis=axis, role=role)


def export_qat(model: nn.Module, data: torch.Tensor, input_name: str = "input") -> QATExport:
    """Return the quantized ONNX of a prepared model and its fidelity on `data` (ORT default and no-opt modes)."""
    model.eval()
    graph = float_onnx(model, data[:2], input_name)
    plan = qat_plan(model, graph)
    model_q, stored = export_quantized(graph, plan)
    onnx.checker.check_model(model_q)
    with torch.no_grad():
        reference = model(data).numpy()
    feeds = {graph.graph.input[0].name: data.numpy()}
    fidelity, _ = check_fidelity(model_q, reference, feeds)
    simulated = reference_outputs(graph, plan, feeds)
    s = sqnr_db(reference, simulated)
    agreement = top1_agreement(reference, simulated)
    simulation = ModeFidelity(agreement, s, float(np.max(np.abs(reference - simulated))), agreement == 1.0 and s >= 40)
    return QATExport(model_q, plan, fidelity, simulation, stored)
