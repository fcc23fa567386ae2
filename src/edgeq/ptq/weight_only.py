"""Weight-only quantization (`--acts float`): MatMul weights as com.microsoft MatMulNBits, int4 embedding tables as
GatherBlockQuantized, others as DequantizeLinear.

MatMulNBits (onnxruntime's kernel for LLM weights) stores B [K, N] column by column in blocks of `block_size`
along K: `B` uint8 [N, K / block, block * bits / 8] (two 4-bit codes per byte, the first in the low nibble) and one
float scale per block and column; with no zero-point input the zero point is 2^(bits-1), so a symmetric code c in
[-8, 7] is stored as c + 8. Two ways to choose the scales:
- "rtn": round to nearest, the block's largest-magnitude weight on code -8 (as onnxruntime's MatMulNBitsQuantizer
  does with is_symmetric=True);
- "clip": calibration-based, activation-aware clipping (the clipping step of AWQ): per block and column, the
  scale of a ratio r in a grid minimizing sum_k E[x_k^2] (w_k - q(w_k))^2, the layer's expected output error
  with a diagonal Hessian from the calibration data; r = 1 is RTN, so it never does worse on that measure.
Weights are read one at a time (external data straight from its file) and replaced in the model by their codes,
so at most one float weight matrix is held besides the model being written.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ConfigError
from ..formats import IntFormat, PerBlock
from ..graph.plan import TensorQuant
from ..graph.points import find_points
from ..graph.util import initializer_map
from .config import QuantConfig
from .planner import weight_entry

BLOCK_SIZES = (16, 32, 64, 128, 256)
DEFAULT_BLOCK = 32
CLIP_GRID = np.linspace(0.5, 1.0, 11, dtype=np.float32)
MS_DOMAIN = "com.microsoft"


def block_size(config: QuantConfig) -> int:
    """Return the MatMulNBits block size: the config's block:N granularity, else 32."""
    size = config.granularity.size if isinstance(config.granularity, PerBlock) else DEFAULT_BLOCK
    if size not in BLOCK_SIZES:
        raise ConfigError(f"MatMulNBits blocks are {BLOCK_SIZES}, not {size}; pass --granularity block:32 (or 64, 128)")
    return size


def uses_nbits(config: QuantConfig) -> bool:
    """Return True when MatMul weights go out as MatMulNBits: int4 or int8 weights for onnxruntime."""
    w = config.weights
    return isinstance(w, IntFormat) and w.signed and w.bits in (4, 8) and config.target in ("ort-cpu", "generic")


def nbits_eligible(node: onnx.NodeProto, w: np.ndarray) -> bool:
    """Return True for a MatMul with a 2-D weight, or a Gemm MatMulNBits can express (no transA, alpha = beta = 1)."""
    if w.ndim != 2:
        return False
    if node.op_type == "MatMul":
        return True
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return node.op_type == "Gemm" and not attrs.get("transA", 0) and attrs.get("alpha", 1.0) == 1.0 and (
        attrs.get("beta", 1.0) == 1.0)


def tensor_array(tensor: onnx.TensorProto, base: Path | None) -> np.ndarray:
    """Return an initializer's values, reading external data from its file (only this tensor's bytes)."""
    if not onnx.external_data_helper.uses_external_data(tensor):
        return numpy_helper.to_array(tensor)
    info = {e.key: e.value for e in tensor.external_data}
    dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
    count = int(np.prod(tensor.dims)) if tensor.dims else 1
    with open(Path(base) / info["location"], "rb") as f:
        f.seek(int(info.get("offset", 0)))
        data = np.fromfile(f, dtype=dtype, count=count)
    return data.reshape(tuple(tensor.dims))


def _blocks(w: np.ndarray, block: int) -> np.ndarray:
    """Return w [K, N] as [K / block, block, N], zero-padded along K only when K is not a multiple of block."""
    k, n = w.shape
    n_blocks = -(-k // block)
    if n_blocks * block != k:
        padded = np.zeros((n_blocks * block, n), np.float32)
        padded[:k] = w
        w = padded
    return w.reshape(n_blocks, block, n)


def signed_extreme_scale(w: np.ndarray, fmt: IntFormat, block: int) -> np.ndarray:
    """Return [K / block, N] scales mapping each block's largest-magnitude weight exactly onto qmin (e.g. -8).

    As onnxruntime's blockwise quantizer does: the scale takes the sign of -extreme, so the extreme lands on the
    code -8 and the 16 levels of int4 span [-8, 7] steps of amax / 8, finer than the amax / 7 of a symmetric
    [-7, 7] grid (measured on the char LM: perplexity delta +0.026 with amax / 7, +0.003 with this).
    """
    blocks = _blocks(w, block)
    hi, lo = blocks.max(axis=1), blocks.min(axis=1)
    extreme = np.where(-lo > hi, lo, hi)
    scale = extreme / np.float32(fmt.qmin)
    tiny = np.float32(np.finfo(np.float32).tiny)
    return np.where(np.abs(scale) < tiny, tiny, scale).astype(np.float32)


def nbits_scales(w: np.ndarray, fmt: IntFormat, block: int, h_diag: np.ndarray | None) -> np.ndarray:
    """Return the [K / block, N] scales: RTN (`signed_extreme_scale`), or the activation-weighted clip search."""
    scale = signed_extreme_scale(w, fmt, block)
    if h_diag is None:
        return scale
    k = w.shape[0]
    h = np.asarray(h_diag, np.float32).reshape(k, 1)
    best_err = np.full(scale.shape, np.inf, np.float32)
    best = scale.copy()
    for r in CLIP_GRID:  # a handful of ratios; each one is vectorized over every block and column
        s = np.repeat(scale * r, block, axis=0)[:k]
        err = h * (w - np.clip(np.rint(w / s), fmt.qmin, fmt.qmax) * s) ** 2
        per_block = np.add.reduceat(err, np.arange(0, k, block), axis=0)
        better = per_block < best_err
        best_err = np.where(better, per_block, best_err)
        best = np.where(better, scale * r, best)
    return best.astype(np.float32)


def pack_nbits(w: np.ndarray, scale: np.ndarray, fmt: IntFormat, block: int) -> np.ndarray:
    """Return B uint8 [N, K / block, block * bits / 8], the MatMulNBits layout of w [K, N] at these scales."""
    q = _blocks(w, block) / scale[:, None, :]  # padded rows are 0: code 0, stored as the zero point
    np.rint(q, out=q)
    np.clip(q, fmt.qmin, fmt.qmax, out=q)
    q += 2 ** (fmt.bits - 1)
    cols = q.astype(np.uint8).transpose(2, 0, 1)  # [N, K / block, block]
    if fmt.bits == 4:
        cols = cols[..., 0::2] | (cols[..., 1::2] << 4)
    return np.ascontiguousarray(cols)


def nbits_values(w: np.ndarray, scale: np.ndarray, fmt: IntFormat, block: int) -> np.ndarray:
    """Return the [K, N] weights MatMulNBits computes with (the codes times their scales)."""
    s = np.repeat(scale, block, axis=0)[: w.shape[0]]
    return (np.clip(np.rint(w / s), fmt.qmin, fmt.qmax) * s).astype(np.float32)


def matmul_nbits(name: str, a: str, out: str, w: np.ndarray, fmt: IntFormat, block: int,
                 h_diag: np.ndarray | None = None):
    """Return (MatMulNBits node, its initializers, TensorQuant of the weight, stored bytes)."""
    scale = nbits_scales(w, fmt, block, h_diag)
    packed = pack_nbits(w, scale, fmt, block)
    k, n = w.shape
    inits = [numpy_helper.from_array(packed, f"{name}_nbits_B"),
             numpy_helper.from_array(np.ascontiguousarray(scale.T).reshape(-1), f"{name}_nbits_scales")]
    node = helper.make_node("MatMulNBits", [a, inits[0].name, inits[1].name], [out], name=f"{name}_MatMulNBits",
                            domain=MS_DOMAIN, K=k, N=n, bits=fmt.bits, block_size=block, accuracy_level=0)
    entry = TensorQuant(name, fmt.name, scale, axis=0, block_size=block, role="weight")
    return node, inits, entry, packed.nbytes + scale.nbytes


def gather_block_quantized(node: onnx.NodeProto, w: np.ndarray, fmt: IntFormat, block: int):
    """Return (GatherBlockQuantized node, initializers, TensorQuant, stored bytes) for a Gather of a 2-D table.

    The table [V, d] is stored as int4 codes with one scale per row and block of `block` along d, the largest-
    magnitude value of each block on code -8 (as for MatMulNBits); com.microsoft GatherBlockQuantized gathers rows
    and dequantizes only those, so the float table is never rebuilt at run time.
    """
    scale = signed_extreme_scale(w.T, fmt, block).T  # [V, d / block]
    s = np.repeat(scale, block, axis=1)[:, : w.shape[1]]
    codes = np.clip(np.rint(w / s), fmt.qmin, fmt.qmax).astype(np.int8).reshape(-1)
    if codes.size % 2:
        codes = np.append(codes, np.int8(0))
    packed = ((codes[0::2] & 0x0F) | ((codes[1::2] & 0x0F) << 4)).astype(np.uint8)  # first code in the low nibble
    name = node.input[0]
    data = helper.make_tensor(f"{name}_q4", onnx.TensorProto.INT4, w.shape, packed.tobytes(), raw=True)
    scales = numpy_helper.from_array(np.ascontiguousarray(scale), f"{name}_scales")
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    new = helper.make_node("GatherBlockQuantized", [data.name, node.input[1], scales.name], list(node.output),
                           name=f"{node.name or name}_GatherBlockQuantized", domain=MS_DOMAIN, gather_axis=axis,
                           quantize_axis=1, block_size=block)
    entry = TensorQuant(name, fmt.name, scale, axis=1, block_size=block, role="weight")
    return new, [data, scales], entry, packed.nbytes + scale.nbytes


def export_weight_only(model: onnx.ModelProto, config: QuantConfig, base: Path | None = None,
                       h_diags: dict[str, np.ndarray] | None = None):
    """Quantize the model's weights in place; return (model, entries, stored bytes, tensor -> how it is written).

    MatMul weights become MatMulNBits when `uses_nbits(config)`; every other weight (and other formats) a stored
    code tensor plus DequantizeLinear. `h_diags` (MatMul input name -> E[x_k^2]) selects the clip search.
    """
    from ..graph.qdq import export_quantized

    graph = model.graph
    inits = initializer_map(graph)
    by_name = {n.name: n for n in graph.node}
    points = find_points(model, config.exclude)
    nbits = uses_nbits(config)
    block = block_size(config) if nbits else None
    entries, stored, plan, hows = [], {}, [], {}
    jobs = [(qn, by_name[qn.name]) for qn in points.nodes if qn.weight]

    def quantize_one(job):
        qn, node = job
        w = tensor_array(inits[qn.weight], base).astype(np.float32)
        if not (nbits and nbits_eligible(node, w) and len(qn.acts) == 1):
            return weight_entry(qn, w, config.weights.name, config), None
        transposed = qn.op_type == "Gemm" and qn.channel_axis == 0  # transB: MatMulNBits takes B as [K, N]
        h = None if h_diags is None else h_diags.get(qn.acts[0])
        new, tensors, entry, nbytes = matmul_nbits(qn.weight, qn.acts[0], node.output[0], w.T if transposed else w,
                                                   config.weights, block, h)
        if transposed:  # describe the scales in the stored [N, K] layout
            entry = replace(entry, scale=np.ascontiguousarray(entry.scale.T), axis=1)
        return entry, (new, tensors, nbytes)

    # NumPy releases the GIL in its array loops: one weight per core, each worker holding one float matrix
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        results = list(pool.map(quantize_one, jobs))
    position = {id(n): k for k, n in enumerate(graph.node)}
    replaced: dict[int, onnx.NodeProto] = {}
    dropped = set()
    for (qn, node), (entry, nb) in zip(jobs, results):
        entries.append(entry)
        if nb is None:
            plan.append(entry)
            hows[qn.weight] = "codes+DequantizeLinear"
            continue
        new, tensors, stored[qn.weight] = nb
        if qn.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            new.input.extend(["", "", node.input[2]])  # zero_points, g_idx absent; bias
        replaced[position[id(node)]] = new
        dropped.add(qn.weight)
        graph.initializer.extend(tensors)
        hows[qn.weight] = f"MatMulNBits block {block}"
    if nbits and config.weights.bits == 4:  # embedding tables: GatherBlockQuantized (onnxruntime has it for int4)
        uses: dict[str, int] = {}
        for n in graph.node:
            for i in n.input:
                uses[i] = uses.get(i, 0) + 1
        for k, node in enumerate(graph.node):
            name = node.input[0] if node.op_type == "Gather" and node.input else ""
            if name in inits and name not in dropped and uses[name] == 1 and len(inits[name].dims) == 2 and (
                    inits[name].data_type == onnx.TensorProto.FLOAT) and name not in config.exclude:
                w = tensor_array(inits[name], base).astype(np.float32)
                new, tensors, entry, stored[name] = gather_block_quantized(node, w, config.weights, block)
                replaced[k] = new
                dropped.add(name)
                graph.initializer.extend(tensors)
                entries.append(entry)
                hows[name] = f"GatherBlockQuantized block {block}"
    if replaced:
        nodes = [replaced.get(k, n) for k, n in enumerate(graph.node)]
        del graph.node[:]
        graph.node.extend(nodes)
        kept = [t for t in graph.initializer if t.name not in dropped]
        del graph.initializer[:]
        graph.initializer.extend(kept)
    if any(n.domain == MS_DOMAIN for n in graph.node) and not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    for t in graph.initializer:  # what stays float (embeddings, norms) moves into the model: it is its own file now
        if onnx.external_data_helper.uses_external_data(t):
            t.CopyFrom(numpy_helper.from_array(tensor_array(t, base), t.name))
    if plan:
        model_q, dq_stored = export_quantized(model, plan)
        stored.update(dq_stored)
        return model_q, entries, stored, hows
    return model, entries, stored, hows




def activation_h_diag(model: onnx.ModelProto, base: Path | None, names: list[str], data, batch: int) -> dict:
    """Return input name -> E[x_k^2] over the last axis, for the MatMul inputs `names`, from calibration data."""
    import tempfile

    from ..data import batches
    from ..graph.session import ort_session

    probe = onnx.ModelProto()
    probe.CopyFrom(model)  # external data stays in its file: this copy holds the graph only
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in names)
    sums = {n: 0.0 for n in names}
    count = dict.fromkeys(names, 0)
    with tempfile.TemporaryDirectory() as tmp:
        files = {e.value for t in probe.graph.initializer for e in t.external_data if e.key == "location"}
        for loc in files:  # the probe sits in a temp folder; its external data is the original file, linked
            os.makedirs(Path(tmp, loc).parent, exist_ok=True)
            os.symlink(Path(base, loc).resolve(), Path(tmp, loc))
        path = Path(tmp) / "probe.onnx"
        onnx.save_model(probe, str(path))
        sess = ort_session(str(path), "ort_default", what="the float model")
        for chunk in batches(data, batch):
            for n, x in zip(names, sess.run(names, chunk)):
                x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
                sums[n] = sums[n] + np.sum(x * x, axis=0)
                count[n] += x.shape[0]
        del sess
    return {n: (sums[n] / max(count[n], 1)).astype(np.float32) for n in names}


__all__ = ["BLOCK_SIZES", "CLIP_GRID", "activation_h_diag", "block_size", "export_weight_only", "matmul_nbits",
           "gather_block_quantized", "nbits_eligible", "nbits_scales", "nbits_values", "pack_nbits", "signed_extreme_scale", "tensor_array",
           "uses_nbits"]
