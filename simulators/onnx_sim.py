"""Run an ONNX model with its MatMul/Gemm/Conv weights on simulated crossbar tiles and everything else in float.

    result = simulate_onnx("model.onnx", get_preset("pcm"), {"image": x}, labels=y,
                           drift_times=[1, 3600, 86400, 3.15e7], repeats=5, seed=0)

Each repeat programs a fresh chip (new programming noise and faults) and reads it at every drift time, so the
spread over repeats is chip-to-chip variation and the trend over time is that of one chip. Nodes are executed in
graph order: analog nodes by the simulator (weights must be initializers; the bias and Gemm's alpha/beta are
applied digitally), every other node by onnxruntime as a one-node model (so any op onnxruntime knows works).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .analog_activation import ActivationSpec
from .crossbar import ProgrammedArray, program
from .onnx_rnn import ONNX_HANDLERS as RNN_HANDLERS
from .onnx_rnn import rnn_config
from .presets import CrossbarConfig

__all__ = ["AnalogNode", "OnnxCrossbarModel", "SimulationResult", "fp32_outputs", "simulate_onnx"]

_ANALOG_OPS = ("MatMul", "Gemm", "Conv")


@dataclass(frozen=True)
class AnalogNode:
    """One ONNX node whose weight lives on crossbar tiles."""

    name: str
    op_type: str
    in_features: int
    out_features: int
    tiles: int


@dataclass
class SimulationResult:
    """Accuracy and output SQNR vs FP32 at each drift time, for each Monte-Carlo repeat."""

    preset: str
    drift_times_s: list[float]
    sqnr_db: np.ndarray
    """(repeats, times) SQNR of the first model output against the FP32 model, in dB."""
    accuracy: np.ndarray | None
    """(repeats, times) top-1 accuracy, or None without labels."""
    fp32_accuracy: float | None
    nodes: list[AnalogNode] = field(default_factory=list)

    def summary(self) -> list[dict]:
        """Return one dict per drift time with mean and std over repeats."""
        rows = []
        for k, t in enumerate(self.drift_times_s):
            row = {
                "t_s": t,
                "sqnr_db_mean": float(np.mean(self.sqnr_db[:, k])),
                "sqnr_db_std": float(np.std(self.sqnr_db[:, k])),
            }
            if self.accuracy is not None:
                row.update(
                    accuracy_mean=float(np.mean(self.accuracy[:, k])), accuracy_std=float(np.std(self.accuracy[:, k]))
                )
            rows.append(row)
        return rows

    def to_json(self) -> dict:
        """Return a JSON-ready dict of the whole result."""
        return {
            "preset": self.preset,
            "drift_times_s": self.drift_times_s,
            "repeats": int(self.sqnr_db.shape[0]),
            "fp32_accuracy": self.fp32_accuracy,
            "summary": self.summary(),
            "sqnr_db": self.sqnr_db.tolist(),
            "accuracy": None if self.accuracy is None else self.accuracy.tolist(),
            "analog_nodes": [dataclasses.asdict(n) for n in self.nodes],
        }


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _im2col(
    x: np.ndarray, kernel: tuple[int, int], pads: list[int], strides: list[int], dil: list[int]
) -> tuple[np.ndarray, int, int]:
    """Return (N*Ho*Wo, C*kh*kw) patches of x (N, C, H, W) in Conv weight order, and Ho, Wo."""
    n, c, h, w = x.shape
    kh, kw = kernel
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    ho = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    wo = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    cols = np.empty((n, ho, wo, c, kh, kw), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            patch = xp[
                :,
                :,
                i * dil[0] : i * dil[0] + strides[0] * (ho - 1) + 1 : strides[0],
                j * dil[1] : j * dil[1] + strides[1] * (wo - 1) + 1 : strides[1],
            ]
            cols[:, :, :, :, i, j] = patch.transpose(0, 2, 3, 1)
    return cols.reshape(n * ho * wo, c * kh * kw), ho, wo


class OnnxCrossbarModel:
    """An ONNX model split into analog nodes (simulated tiles) and float nodes (onnxruntime, one node each)."""

    def __init__(
        self, model: onnx.ModelProto, config: CrossbarConfig, rnn_activation: ActivationSpec | None = None
    ) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.model = model
        self.config = config
        self.inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in self.inits]
        self.output_names = [o.name for o in model.graph.output]
        self.weights: dict[str, np.ndarray] = {}
        self.nodes: list[AnalogNode] = []
        self._sessions: dict[int, object] = {}
        self._arrays: dict[str, ProgrammedArray] = {}
        self._opset = [o for o in model.opset_import]
        inferred = onnx.shape_inference.infer_shapes(model).graph
        self._elem_type = {
            v.name: v.type.tensor_type.elem_type for v in [*inferred.value_info, *inferred.output, *inferred.input]
        }
        self.rnn_activation = rnn_activation  # LSTM/GRU gate activations (onnx_rnn.py); None: exact
        self._rnn_seed = 0
        for node in model.graph.node:
            if node.op_type in RNN_HANDLERS and all(i in self.inits for i in node.input[1:3]):
                w, r = self.inits[node.input[1]], self.inits[node.input[2]]
                self.nodes.append(AnalogNode(node.name or node.output[0], node.op_type, w.shape[2] + r.shape[2],
                                             w.shape[1], 2 * w.shape[0]))
            w = self._analog_weight(node)
            if w is not None:
                self.weights[node.name or node.output[0]] = w
                tiles = (
                    -(-w.shape[0] // config.tile.rows) * -(-w.shape[1] // config.tile.cols) * config.tile.weight_slices
                )
                self.nodes.append(AnalogNode(node.name or node.output[0], node.op_type, w.shape[0], w.shape[1], tiles))

    def _analog_weight(self, node: onnx.NodeProto) -> np.ndarray | None:
        """Return the (in, out) matrix the node's weight maps to, or None when the node runs in float."""
        if node.op_type not in _ANALOG_OPS or len(node.input) < 2 or node.input[1] not in self.inits:
            return None
        w = self.inits[node.input[1]].astype(np.float64)
        a = _attrs(node)
        if node.op_type == "MatMul":
            return w if w.ndim == 2 else None
        if node.op_type == "Gemm":
            return w.T if a.get("transB", 0) else w
        if w.ndim != 4 or a.get("group", 1) != 1 or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            return None
        return w.reshape(w.shape[0], -1).T

    def program(self, rng: np.random.Generator) -> None:
        """Program every analog weight onto fresh tiles (one chip)."""
        self._arrays = {name: program(w, self.config, rng) for name, w in self.weights.items()}
        self._rnn_seed = int(rng.integers(0, 2**31))

    def run(self, feeds: dict[str, np.ndarray], t_seconds: float, rng: np.random.Generator | None) -> list[np.ndarray]:
        """Return the model outputs with analog nodes simulated at t_seconds (read noise from rng)."""
        if not self._arrays and self.weights:
            raise RuntimeError("call program(rng) before run()")
        env: dict[str, np.ndarray] = dict(self.inits)
        env.update(feeds)
        for k, node in enumerate(self.model.graph.node):
            name = node.name or node.output[0]
            if name in self._arrays:
                try:
                    env[node.output[0]] = self._run_analog(node, self._arrays[name], env, t_seconds, rng)
                except ValueError as err:
                    raise ValueError(f"node {name} ({node.op_type}) on tiles: {err}") from None
            elif node.op_type in RNN_HANDLERS and all(i in self.inits for i in node.input[1:3]):
                cfg = rnn_config(self.config, self.rnn_activation, t_seconds, self._rnn_seed + k)
                outs = RNN_HANDLERS[node.op_type](node, [env[i] if i else None for i in node.input], cfg)
                env.update((o, v) for o, v in zip(node.output, outs) if o)
            else:
                outs = self._run_float(k, node, env)
                env.update(zip(node.output, outs))
        return [env[o] for o in self.output_names]

    def _run_analog(self, node, arr: ProgrammedArray, env: dict, t: float, rng) -> np.ndarray:
        x = env[node.input[0]].astype(np.float32)
        a = _attrs(node)
        bias = env[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        if node.op_type == "MatMul":
            return arr.matmul(x, t, rng)
        if node.op_type == "Gemm":
            x = x.T if a.get("transA", 0) else x
            y = np.float32(a.get("alpha", 1.0)) * arr.matmul(x, t, rng)
            return y if bias is None else y + np.float32(a.get("beta", 1.0)) * bias.astype(np.float32)
        kernel = tuple(self.inits[node.input[1]].shape[2:])
        pads = list(a.get("pads", [0, 0, 0, 0]))
        strides, dil = list(a.get("strides", [1, 1])), list(a.get("dilations", [1, 1]))
        cols, ho, wo = _im2col(x, kernel, pads, strides, dil)
        y = arr.matmul(cols, t, rng).reshape(x.shape[0], ho, wo, -1).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(y if bias is None else y + bias.astype(np.float32)[None, :, None, None])

    def _run_float(self, k: int, node: onnx.NodeProto, env: dict) -> list[np.ndarray]:
        """Run one node with onnxruntime (session built once per node)."""
        inputs = [i for i in node.input if i]
        if k not in self._sessions:
            graph_inputs = [
                helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(env[i].dtype), None) for i in inputs
            ]
            graph_outputs = [
                helper.make_tensor_value_info(o, self._elem_type.get(o) or onnx.TensorProto.FLOAT, None)
                for o in node.output
                if o
            ]
            graph = helper.make_graph([node], f"node_{k}", graph_inputs, graph_outputs)
            one = helper.make_model(graph, opset_imports=self._opset, ir_version=self.model.ir_version)
            opts = self._ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 3
            self._sessions[k] = self._ort.InferenceSession(
                one.SerializeToString(), opts, providers=["CPUExecutionProvider"]
            )
        try:
            return self._sessions[k].run([o for o in node.output if o], {i: env[i] for i in inputs})
        except Exception as err:  # onnxruntime raises its own exception types for shape/type mismatches
            raise ValueError(
                f"node {node.name or node.output[0]} ({node.op_type}) failed: {str(err).splitlines()[0][:300]}"
            ) from None


def fp32_outputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Return the model's outputs from onnxruntime in float (the reference); ValueError when it cannot run."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return sess.run(None, feeds)
    except Exception as err:  # onnxruntime's own exception types; the first line says what is wrong
        raise ValueError(f"the FP32 model does not run on these inputs: {' '.join(str(err).split())[:300]}") from None


def simulate_onnx(
    model: str | Path | onnx.ModelProto,
    config: CrossbarConfig,
    feeds: dict[str, np.ndarray],
    labels: np.ndarray | None = None,
    drift_times: list[float] = (0.0,),
    repeats: int = 1,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    reference: np.ndarray | None = None,
    rnn_activation: ActivationSpec | None = None,
) -> SimulationResult:
    """Return accuracy (with labels) and SQNR vs FP32 of the model on simulated tiles at each drift time.

    `reference` is the FP32 first output when already computed (it is computed here otherwise).
    """
    from edgeq.metrics import sqnr_db, top1_accuracy

    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    sim = OnnxCrossbarModel(proto, config, rnn_activation)
    if reference is None:
        reference = fp32_outputs(proto, feeds)[0]
    times = [float(t) for t in drift_times]
    sqnr = np.zeros((repeats, len(times)))
    acc = None if labels is None else np.zeros((repeats, len(times)))
    step = 0
    for r in range(repeats):
        sim.program(np.random.default_rng([seed, r]))
        for k, t in enumerate(times):
            out = sim.run(feeds, t, np.random.default_rng([seed, r, k, 1]))[0]
            sqnr[r, k] = sqnr_db(reference, out)
            if acc is not None:
                acc[r, k] = top1_accuracy(out, labels)
            step += 1
            if progress is not None:
                progress(step, repeats * len(times))
    fp32_acc = None if labels is None else top1_accuracy(reference, labels)
    return SimulationResult(config.name, times, sqnr, acc, fp32_acc, sim.nodes)
