"""Decoder-only transformer language models as ONNX, for the weight-only benchmark (issue 16).

`write_lm` writes a Llama-like decoder (token embedding, pre-norm attention with a causal mask, SiLU-gated MLP,
LM head) with every weight in one external data file, streamed: each weight is generated (or taken from a trained
model), appended to the data file and dropped, so a 1B-parameter model is built without holding it in memory.
`train_charlm` trains the same architecture on examples/charlm_pydoc.npz with torch in about a minute, so the
perplexity delta of weight-only quantization is measured on a model that has learned something.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHARLM = Path(__file__).resolve().parents[1] / "examples" / "charlm_pydoc.npz"


@dataclass(frozen=True)
class LMShape:
    """Sizes of the decoder."""

    vocab: int
    d: int
    layers: int
    heads: int
    ffn: int
    context: int

    @property
    def params(self) -> int:
        """Number of weights (embedding, attention, MLP, norms, LM head)."""
        per_layer = 4 * self.d * self.d + 3 * self.d * self.ffn + 4 * self.d
        return self.vocab * self.d * 2 + self.layers * per_layer + 2 * self.d


BIG = LMShape(vocab=32000, d=2048, layers=20, heads=16, ffn=5504, context=32)  # 1.14e9 weights, 4.6 GB FP32
CHAR = LMShape(vocab=96, d=128, layers=2, heads=4, ffn=512, context=64)


def weight_names(shape: LMShape) -> list[tuple[str, tuple[int, ...]]]:
    """Return (name, shape) of every weight in the order `write_lm` writes them (MatMul weights are [in, out])."""
    d, f = shape.d, shape.ffn
    out = [("embed", (shape.vocab, d))]
    for i in range(shape.layers):
        out += [(f"l{i}.ln1.g", (d,)), (f"l{i}.ln1.b", (d,)), (f"l{i}.wq", (d, d)), (f"l{i}.wk", (d, d)),
                (f"l{i}.wv", (d, d)), (f"l{i}.wo", (d, d)), (f"l{i}.ln2.g", (d,)), (f"l{i}.ln2.b", (d,)),
                (f"l{i}.wg", (d, f)), (f"l{i}.wu", (d, f)), (f"l{i}.wd", (f, d))]
    return out + [("lnf.g", (d,)), ("lnf.b", (d,)), ("head", (d, shape.vocab))]


def random_weight(name: str, dims: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Return a random weight like a trained model's at init: norms 1/0, matrices N(0, 1/fan_in)."""
    if name.endswith(".g"):
        return np.ones(dims, np.float32)
    if name.endswith(".b"):
        return np.zeros(dims, np.float32)
    return (rng.standard_normal(dims, dtype=np.float32) / np.float32(math.sqrt(dims[0] if name != "embed" else 1)))


def write_lm(path: str | Path, shape: LMShape, weight=None, seed: int = 0) -> Path:
    """Write the decoder to `path` with its weights in `path`.data, one weight in memory at a time.

    `weight(name, dims)` returns a weight; default: `random_weight` with a seeded generator.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    weight = weight or (lambda name, dims: random_weight(name, dims, rng))
    data_name = path.name + ".data"
    inits = []
    with open(path.with_name(data_name), "wb") as f:
        for name, dims in weight_names(shape):
            arr = np.ascontiguousarray(weight(name, dims), dtype=np.float32)
            assert arr.shape == dims, (name, arr.shape, dims)
            t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
            offset = f.tell()
            f.write(arr.tobytes())
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(arr.nbytes))):
                e = t.external_data.add()
                e.key, e.value = k, v
            inits.append(t)
            del arr
    small = [numpy_helper.from_array(a, n) for n, a in _constants(shape).items()]
    graph = helper.make_graph(_nodes(shape), "lm",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", shape.context])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                             ["B", shape.context, shape.vocab])],
                              inits + small)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgeq-bench")
    model.ir_version = 8
    onnx.save_model(model, str(path))  # tensors already point at the data file
    return path


def _constants(shape: LMShape) -> dict[str, np.ndarray]:
    t, h = shape.context, shape.heads
    mask = np.triu(np.full((t, t), -1e9, np.float32), k=1)
    return {"mask": mask, "scale": np.array(1.0 / math.sqrt(shape.d // h), np.float32),
            "split": np.array([0, t, h, shape.d // h], np.int64), "merge": np.array([0, t, shape.d], np.int64)}


def _nodes(shape: LMShape) -> list[onnx.NodeProto]:
    n = []
    mk = lambda op, ins, outs, **kw: n.append(helper.make_node(op, ins, outs, name=outs[0], **kw))  # noqa: E731
    mk("Gather", ["embed", "ids"], ["h0"])
    h = "h0"
    for i in range(shape.layers):
        p = f"l{i}."
        mk("LayerNormalization", [h, p + "ln1.g", p + "ln1.b"], [p + "a"], axis=-1)
        for w in "qkv":
            mk("MatMul", [p + "a", p + "w" + w], [p + w])
            mk("Reshape", [p + w, "split"], [p + w + "4"])
        mk("Transpose", [p + "q4"], [p + "qh"], perm=[0, 2, 1, 3])
        mk("Transpose", [p + "k4"], [p + "kt"], perm=[0, 2, 3, 1])
        mk("Transpose", [p + "v4"], [p + "vh"], perm=[0, 2, 1, 3])
        mk("MatMul", [p + "qh", p + "kt"], [p + "s"])
        mk("Mul", [p + "s", "scale"], [p + "ss"])
        mk("Add", [p + "ss", "mask"], [p + "sm"])
        mk("Softmax", [p + "sm"], [p + "pr"], axis=-1)
        mk("MatMul", [p + "pr", p + "vh"], [p + "o4"])
        mk("Transpose", [p + "o4"], [p + "ot"], perm=[0, 2, 1, 3])
        mk("Reshape", [p + "ot", "merge"], [p + "o"])
        mk("MatMul", [p + "o", p + "wo"], [p + "attn"])
        mk("Add", [h, p + "attn"], [p + "h1"])
        mk("LayerNormalization", [p + "h1", p + "ln2.g", p + "ln2.b"], [p + "a2"], axis=-1)
        mk("MatMul", [p + "a2", p + "wg"], [p + "g"])
        mk("MatMul", [p + "a2", p + "wu"], [p + "u"])
        mk("Sigmoid", [p + "g"], [p + "sg"])
        mk("Mul", [p + "g", p + "sg"], [p + "silu"])
        mk("Mul", [p + "silu", p + "u"], [p + "gu"])
        mk("MatMul", [p + "gu", p + "wd"], [p + "mlp"])
        mk("Add", [p + "h1", p + "mlp"], [p + "h2"])
        h = p + "h2"
    mk("LayerNormalization", [h, "lnf.g", "lnf.b"], ["hf"], axis=-1)
    mk("MatMul", ["hf", "head"], ["logits"])
    return n


def windows(codes: np.ndarray, context: int, n: int | None = None, stride: int | None = None) -> np.ndarray:
    """Return [n, context + 1] windows of a code stream (inputs and next-character targets)."""
    stride = stride or context
    starts = np.arange(0, len(codes) - context - 1, stride)[:n]
    return np.stack([codes[s : s + context + 1] for s in starts]).astype(np.int64)


def train_charlm(seconds: float = 60.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Return the weights (write_lm names, MatMul weights [in, out]) of CHAR trained on the pydoc corpus."""
    import torch

    torch.manual_seed(seed)
    s = CHAR
    codes = np.load(CHARLM)["train"]
    params = {name: torch.nn.Parameter(torch.from_numpy(random_weight(name, dims, np.random.default_rng(seed))))
              for name, dims in weight_names(s)}
    opt = torch.optim.AdamW(params.values(), lr=3e-3)
    mask = torch.from_numpy(_constants(s)["mask"])
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        starts = rng.integers(0, len(codes) - s.context - 1, 32)
        batch = torch.from_numpy(np.stack([codes[i : i + s.context + 1] for i in starts]).astype(np.int64))
        logits = forward_torch(params, batch[:, :-1], mask)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, s.vocab), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().numpy().copy() for k, v in params.items()}


def forward_torch(p, ids, mask):
    """Return logits of CHAR in torch, the same ops as the ONNX graph."""
    import torch
    import torch.nn.functional as F

    s = CHAR
    b, t = ids.shape
    dh = s.d // s.heads
    h = p["embed"][ids]
    for i in range(s.layers):
        q = f"l{i}."
        a = F.layer_norm(h, (s.d,), p[q + "ln1.g"], p[q + "ln1.b"])
        split = lambda x: x.reshape(b, t, s.heads, dh).transpose(1, 2)  # noqa: E731
        qh, kh, vh = split(a @ p[q + "wq"]), split(a @ p[q + "wk"]), split(a @ p[q + "wv"])
        att = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(dh) + mask, -1)
        h = h + (att @ vh).transpose(1, 2).reshape(b, t, s.d) @ p[q + "wo"]
        a2 = F.layer_norm(h, (s.d,), p[q + "ln2.g"], p[q + "ln2.b"])
        g = a2 @ p[q + "wg"]
        h = h + (F.silu(g) * (a2 @ p[q + "wu"])) @ p[q + "wd"]
    return F.layer_norm(h, (s.d,), p["lnf.g"], p["lnf.b"]) @ p["head"]


def perplexity(model_path: str | Path, data: np.ndarray, batch: int = 32) -> float:
    """Return exp(mean next-character cross-entropy) of an ONNX LM over [n, context + 1] windows."""
    from edgeq.graph.session import ort_session

    sess = ort_session(str(model_path), "ort_default")
    total, count = 0.0, 0
    for i in range(0, len(data), batch):
        w = data[i : i + batch]
        logits = sess.run(None, {"ids": w[:, :-1]})[0].astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total -= float(np.take_along_axis(logp, w[:, 1:, None], -1).sum())
        count += w[:, 1:].size
    return float(math.exp(total / count))
