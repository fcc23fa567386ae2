"""Run an ONNX model with its weight-stationary products on simulated crossbar tiles and everything else in float.

    sim = OnnxCrossbarModel(model, get_preset("pcm"))
    sim.program(np.random.default_rng(0))          # one chip: programming noise and faults drawn once
    y = sim.run({"image": x}, t_seconds=86400.0, rng=np.random.default_rng(1))

Which nodes go on tiles, and how grouped convolutions are packed, is decided in `onnx_map.py`. Nodes run in graph
order: analog nodes by the simulator (the bias and Gemm's alpha/beta are applied digitally), LSTM/GRU nodes by
`onnx_rnn.py`, every run of consecutive other nodes by onnxruntime as one small model built from the tensors the
run produced (so shapes and types come from the run, not from ONNX shape inference, which leaves many real models
unresolved; node by node where the run's types cannot be inferred or the run fails, so an error names its node).
Convolutions read their input as `patches.Patches`: each tile's rows are gathered from the padded input straight
into the DAC kernel, so the im2col matrix (kh * kw times the input) is never written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from edgeq.errors import ConfigError, InternalError, UserError
from edgeq.graph.session import ort_session

from .analog_activation import ActivationSpec
from .crossbar import ProgrammedArray, program
from .onnx_map import AnalogNode, DigitalNode, NodeMap, attrs, constants, map_node
from .onnx_rnn import ONNX_HANDLERS as RNN_HANDLERS
from .onnx_rnn import rnn_config
from .patches import Patches, conv_patches
from .presets import CrossbarConfig

__all__ = ["OnnxCrossbarModel", "fp32_outputs", "col2im"]


def _conv_geometry(a: dict, spatial: tuple[int, ...], kernel: tuple[int, ...]) -> tuple[list, list, list]:
    """Return (pads [begin..., end...], strides, dilations) of a Conv, resolving auto_pad against the input size."""
    d = len(kernel)
    strides = list(a.get("strides", [1] * d))
    dil = list(a.get("dilations", [1] * d))
    auto = a.get("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * d)
        for i in range(d):
            out = -(-spatial[i] // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - spatial[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + d] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0] * (2 * d)
    else:
        pads = list(a.get("pads", [0] * (2 * d)))
    return pads, strides, dil


def _as_2d(x: np.ndarray, kernel, pads, strides, dil):
    """Return the 2-D view of a 1-D convolution's input and geometry (H = 1), or the inputs unchanged."""
    if len(kernel) == 2:
        return x, tuple(kernel), pads, strides, dil
    return x[:, :, None, :], (1, kernel[0]), [0, pads[0], 0, pads[1]], [1, strides[0]], [1, dil[0]]


def col2im(cols: np.ndarray, n: int, h: int, w: int, m: int, kernel, pads, strides, dil, out_pad) -> np.ndarray:
    """Return ConvTranspose's output (N, M, Ho, Wo) from per-input-pixel products (N*H*W, M*kh*kw)."""
    kh, kw = kernel
    full_h = strides[0] * (h - 1) + dil[0] * (kh - 1) + 1 + out_pad[0]
    full_w = strides[1] * (w - 1) + dil[1] * (kw - 1) + 1 + out_pad[1]
    y = cols.reshape(n, h, w, m, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    full = np.zeros((n, m, full_h, full_w), dtype=np.float32)
    for i in range(kh):  # scatter-add one kernel position at a time
        for j in range(kw):
            full[:, :, i * dil[0] : i * dil[0] + strides[0] * (h - 1) + 1 : strides[0],
                 j * dil[1] : j * dil[1] + strides[1] * (w - 1) + 1 : strides[1]] += y[:, :, i, j]
    return full[:, :, pads[0] : full_h - pads[2], pads[1] : full_w - pads[3]]


@dataclass(frozen=True)
class _FloatSegment:
    """Consecutive float nodes run as one onnxruntime session."""

    first: int
    nodes: tuple[onnx.NodeProto, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


class OnnxCrossbarModel:
    """An ONNX model split into analog nodes (simulated tiles) and float nodes (onnxruntime, a session per run of
    consecutive float nodes)."""

    def __init__(
        self, model: onnx.ModelProto, config: CrossbarConfig, rnn_activation: ActivationSpec | None = None
    ) -> None:
        self.model = model
        self.config = config
        self.inits = constants(model)
        self.input_names = [i.name for i in model.graph.input if i.name not in self.inits]
        self.output_names = [o.name for o in model.graph.output]
        self.maps: dict[str, NodeMap] = {}
        self.nodes: list[AnalogNode] = []
        self.digital_nodes: list[DigitalNode] = []
        self._sessions: dict = {}  # node index or ("segment", first index) -> session (None: run node by node)
        self._arrays: dict[str, list[ProgrammedArray]] = {}
        self._opset = list(model.opset_import)
        self.rnn_activation = rnn_activation  # LSTM/GRU gate activations (onnx_rnn.py); None: exact
        self._rnn_seed = 0
        self._calibration_rng: np.random.Generator | None = None
        tile = config.tile
        for node in model.graph.node:
            name = node.name or node.output[0]
            if self._is_rnn_on_tiles(node):
                w, r = self.inits[node.input[1]], self.inits[node.input[2]]
                self.nodes.append(AnalogNode(name, node.op_type, w.shape[2] + r.shape[2], w.shape[1],
                                             2 * w.shape[0], tile_rows=tile.rows, tile_cols=tile.cols))
                continue
            mapped = map_node(node, self.inits, tile.rows, tile.cols, tile.weight_slices, tile.group_mapping)
            if isinstance(mapped, NodeMap):
                self.maps[name] = mapped
                self.nodes.append(mapped.info)
            elif isinstance(mapped, DigitalNode):
                self.digital_nodes.append(mapped)
        self._segments = self._float_segments()

    def _is_rnn_on_tiles(self, node: onnx.NodeProto) -> bool:
        """Return True for an LSTM/GRU with constant weights (it runs on tiles, `onnx_rnn.py`)."""
        return node.op_type in RNN_HANDLERS and all(i in self.inits for i in node.input[1:3])

    def _float_segments(self) -> dict[int, _FloatSegment]:
        """Return the runs of consecutive float nodes, keyed by their first node's index: each runs as one
        onnxruntime session (one call per run instead of one per node), reading what earlier nodes produced and
        returning what later nodes or the graph outputs read."""
        nodes = list(self.model.graph.node)
        reads = [[i for i in [*n.input, *outer_names(n)] if i] for n in nodes]
        on_tiles = [(n.name or n.output[0]) in self.maps or self._is_rnn_on_tiles(n) for n in nodes]
        segments, k = {}, 0
        while k < len(nodes):
            if on_tiles[k]:
                k += 1
                continue
            end = k
            while end + 1 < len(nodes) and not on_tiles[end + 1]:
                end += 1
            produced: set[str] = set()
            inputs: list[str] = []
            for j in range(k, end + 1):
                inputs += [i for i in reads[j] if i not in produced]
                produced.update(o for o in nodes[j].output if o)
            later = {i for j in range(end + 1, len(nodes)) for i in reads[j]} | set(self.output_names)
            outputs = [o for j in range(k, end + 1) for o in nodes[j].output if o and o in later]
            segments[k] = _FloatSegment(k, tuple(nodes[k : end + 1]), tuple(dict.fromkeys(inputs)), tuple(outputs))
            k = end + 1
        return segments

    def program(self, rng: np.random.Generator) -> None:
        """Program every analog weight onto fresh tiles (one chip)."""
        self._arrays = {name: [program(b.matrix, self.config, rng) for b in m.blocks] for name, m in self.maps.items()}
        self._rnn_seed = int(rng.integers(0, 2**31))

    def calibrate(self, feeds: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        """Calibrate every array's periphery (config.calibration) layer by layer, right after programming: the
        calibration inputs run through the chip at t = 0, and each array is calibrated on the inputs it sees."""
        self._calibration_rng = rng
        try:
            self.run(feeds, 0.0, rng)
        finally:
            self._calibration_rng = None

    def run(self, feeds: dict[str, np.ndarray], t_seconds: float, rng: np.random.Generator | None) -> list[np.ndarray]:
        """Return the model outputs with analog nodes simulated at t_seconds (read noise from rng)."""
        if not self._arrays and self.maps:
            raise RuntimeError("call program(rng) before run()")
        env: dict[str, np.ndarray] = dict(self.inits)
        env.update(feeds)
        for k, node in enumerate(self.model.graph.node):
            name = node.name or node.output[0]
            if k in self._segments:
                env.update(self._run_segment(self._segments[k], env))
            elif name in self._arrays:
                try:
                    env[node.output[0]] = self._run_analog(self.maps[name], self._arrays[name], env, t_seconds, rng)
                except UserError as err:  # bad input reaching the tiles (e.g. a wrong feature count)
                    raise ConfigError(f"node {name} ({node.op_type}) on tiles: {err}") from None
                except Exception as err:  # anything else is a bug of the mapping: say where, never a traceback
                    raise InternalError(f"the tile mapping of node {name} ({node.op_type})",
                                        f"{type(err).__name__}: {str(err).splitlines()[0][:200]}") from err
            elif self._is_rnn_on_tiles(node):
                cfg = rnn_config(self.config, self.rnn_activation, t_seconds, self._rnn_seed + k)
                outs = RNN_HANDLERS[node.op_type](node, [env[i] if i else None for i in node.input], cfg)
                env.update((o, v) for o, v in zip(node.output, outs) if o)
        return [env[o] for o in self.output_names]

    # -------------------------------------------------------------------------------------------------- analog

    def _blocks(self, arrays: list[ProgrammedArray], m: NodeMap, x: np.ndarray | Patches, t: float, rng) -> np.ndarray:
        """Return x (rows, in) through every block's array, each on its slice of input and output columns
        (calibrating each array on its inputs first during `calibrate`)."""
        if len(arrays) == 1:  # one array takes the whole input and writes the whole output: no slices, no copy
            if self._calibration_rng is not None:
                arrays[0].calibrate(x, self._calibration_rng)
            return arrays[0].matmul(x, t, rng)
        out = np.empty((x.shape[0], m.info.out_features), dtype=np.float32)
        for arr, b in zip(arrays, m.blocks):
            xb = x.columns(b.in_lo, b.in_hi) if isinstance(x, Patches) else x[:, b.in_lo : b.in_hi]
            if self._calibration_rng is not None:
                arr.calibrate(xb, self._calibration_rng)
            out[:, b.out_lo : b.out_hi] = arr.matmul(xb, t, rng)
        return out

    def _run_analog(self, m: NodeMap, arrays: list[ProgrammedArray], env: dict, t: float, rng) -> np.ndarray:
        node, a = m.node, attrs(m.node)
        x = np.asarray(env[node.input[0] if m.kind != "matmul_left" else node.input[1]], dtype=np.float32)
        bias = env[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        if m.kind == "matmul":
            return self._blocks(arrays, m, x.reshape(-1, x.shape[-1]), t, rng).reshape(*x.shape[:-1], -1)
        if m.kind == "matmul_left":  # W @ X = (X^T @ W^T)^T over the last two axes
            xt = np.swapaxes(x, -1, -2) if x.ndim > 1 else x
            y = self._blocks(arrays, m, xt.reshape(-1, xt.shape[-1]), t, rng).reshape(*xt.shape[:-1], -1)
            return np.ascontiguousarray(np.swapaxes(y, -1, -2) if x.ndim > 1 else y)
        if m.kind == "gemm":
            x = x.T if a.get("transA", 0) else x
            y = np.float32(a.get("alpha", 1.0)) * self._blocks(arrays, m, x, t, rng)
            return y if bias is None else y + np.float32(a.get("beta", 1.0)) * bias.astype(np.float32)
        one_d = len(m.kernel) == 1
        if m.kind == "conv":
            pads, strides, dil = _conv_geometry(a, x.shape[2:], m.kernel)
            x2, kernel, pads, strides, dil = _as_2d(x, m.kernel, pads, strides, dil)
            cols, ho, wo = conv_patches(x2, kernel, pads, strides, dil)
            y = self._blocks(arrays, m, cols, t, rng).reshape(x.shape[0], ho, wo, -1).transpose(0, 3, 1, 2)
        else:
            d = len(m.kernel)
            pads = list(a.get("pads", [0] * (2 * d)))
            strides, dil = list(a.get("strides", [1] * d)), list(a.get("dilations", [1] * d))
            out_pad = list(a.get("output_padding", [0] * d))
            x2, kernel, pads, strides, dil = _as_2d(x, m.kernel, pads, strides, dil)
            out_pad = out_pad if not one_d else [0, out_pad[0]]
            n, c, h, w = x2.shape
            cols = self._blocks(arrays, m, x2.transpose(0, 2, 3, 1).reshape(n * h * w, c), t, rng)
            y = col2im(cols, n, h, w, m.info.out_features // int(np.prod(kernel)), kernel, pads, strides, dil,
                       out_pad)
        if one_d:
            y = y[:, :, 0, :]
        # one pass from the tiles' (pixel, channel) layout to a contiguous NCHW result, the bias added on the way
        out = np.empty(y.shape, dtype=np.float32)
        if bias is None:
            np.copyto(out, y)
        else:
            np.add(y, bias.astype(np.float32).reshape((1, -1) + (1,) * (y.ndim - 2)), out=out)
        return out

    # --------------------------------------------------------------------------------------------------- float

    def _run_segment(self, seg: _FloatSegment, env: dict) -> dict[str, np.ndarray]:
        """Return the values a run of float nodes produces for later nodes, from one onnxruntime session; the
        nodes run one by one when the run cannot be one session or fails (so an error names its node)."""
        key = ("segment", seg.first)
        feeds = {i: env[i] for i in seg.inputs if i in env}  # names local to a nested subgraph are not in env
        if len(seg.nodes) > 1 and key not in self._sessions:
            try:
                self._sessions[key] = self._session(seg.first, seg.nodes, seg.outputs, feeds)
            except UserError:  # e.g. a type onnx cannot infer in the middle: one-node models type from the run
                self._sessions[key] = None
        session = self._sessions.get(key)
        if session is not None:
            try:
                return dict(zip(seg.outputs, session.run(list(seg.outputs), feeds)))
            except Exception:  # onnxruntime's own exception types; node by node below says which node and why
                self._sessions[key] = None
        local = dict(env)
        for j, node in enumerate(seg.nodes):
            local.update(zip(node.output, self._run_float(seg.first + j, node, local)))
        return {o: local[o] for o in seg.outputs}

    def _run_float(self, k: int, node: onnx.NodeProto, env: dict) -> list[np.ndarray]:
        """Run one node with onnxruntime; its one-node model is typed from the tensors of the first run."""
        inputs = list(dict.fromkeys([i for i in node.input if i] + [i for i in outer_names(node) if i in env]))
        outputs = [o for o in node.output if o]
        if k not in self._sessions:
            self._sessions[k] = self._session(k, (node,), outputs, {i: env[i] for i in inputs})
        try:
            return self._sessions[k].run(outputs, {i: env[i] for i in inputs})
        except Exception as err:  # onnxruntime raises its own exception types for shape/type mismatches
            raise UserError(
                f"node {node.name or node.output[0]} ({node.op_type}) failed: {str(err).splitlines()[0][:300]}"
            ) from None

    def _session(self, k: int, nodes, outputs, values: dict[str, np.ndarray]):
        """Return an onnxruntime session of the nodes alone, typed from the run's values of their inputs."""
        graph_inputs = [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(v.dtype), [None] * v.ndim)
                        for i, v in values.items()]
        graph = helper.make_graph(list(nodes), f"nodes_{k}", graph_inputs,
                                  [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outputs])
        part = helper.make_model(graph, opset_imports=self._opset, ir_version=self.model.ir_version)
        try:  # output element types from inference on the typed model (Shape gives int64, not float)
            inferred = {v.name: v.type.tensor_type.elem_type
                        for v in onnx.shape_inference.infer_shapes(part, strict_mode=False).graph.output}
        except Exception:  # an op onnx cannot infer: onnxruntime still needs a type; float is the common case
            inferred = {}
        if len(nodes) > 1 and not all(inferred.get(o) for o in outputs):
            raise UserError(f"the types of nodes_{k}'s outputs are not inferred")  # the caller runs them one by one
        del part.graph.output[:]
        part.graph.output.extend(helper.make_tensor_value_info(o, inferred.get(o) or onnx.TensorProto.FLOAT, None)
                                 for o in outputs)
        node = nodes[0]
        what = f"node {node.name or node.output[0]} alone" if len(nodes) == 1 else f"{len(nodes)} float nodes"
        try:
            return ort_session(part, "ort_default", threads=1, what=what)
        except UserError as err:
            raise UserError(f"node {node.name or node.output[0]} ({node.op_type}) cannot run alone in onnxruntime: "
                            f"{' '.join(str(err).split())[:300]}") from None


def outer_names(node: onnx.NodeProto) -> list[str]:
    """Return the outer-scope tensors an If/Loop/Scan node's subgraphs read (they become inputs of its one-node
    model, since onnxruntime resolves them from the enclosing graph)."""
    names: list[str] = []
    for a in node.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
        for g in graphs:
            local = {i.name for i in g.input} | {i.name for i in g.initializer}
            for sub in g.node:
                local.update(o for o in sub.output if o)
            for sub in g.node:
                names += [i for i in [*sub.input, *outer_names(sub)] if i and i not in local]
    return list(dict.fromkeys(names))


def fp32_outputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Return the model's outputs from onnxruntime in float (the reference); UserError when it cannot run."""
    sess = ort_session(model, "ort_default", what="the FP32 model")
    try:
        return sess.run(None, feeds)
    except Exception as err:  # onnxruntime's own exception types; the first line says what is wrong
        raise UserError(f"the FP32 model does not run on these inputs: {' '.join(str(err).split())[:300]}") from None
