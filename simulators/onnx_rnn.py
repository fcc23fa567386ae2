"""ONNX LSTM and GRU nodes evaluated on analog tiles with ramp-ADC activations (for `edgeq simulate`).

`run_rnn_node(node, inputs, config)` takes an onnx NodeProto and its input arrays (in node-input order, "" for
absent optional inputs) and returns the node's outputs, computed with `AnalogLSTM` / `AnalogGRU` cells. ONNX and
torch differ in gate order (ONNX LSTM i, o, f, c vs torch i, f, g, o; ONNX GRU z, r, h vs torch r, z, n), in bias
layout and in GRU's default `linear_before_reset=0`; this module maps between them. With every effect off the
result equals onnxruntime to float tolerance.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch

from edgeq.errors import UserError

from .analog_activation import ActivationSpec
from .analog_rnn import AnalogGRU, AnalogLSTM, AnalogRNNConfig
from .presets import CrossbarConfig

# ONNX gate blocks -> torch gate order
_LSTM_TO_TORCH = [0, 2, 3, 1]  # ONNX i, o, f, c -> torch i, f, g(c), o
_GRU_TO_TORCH = [1, 0, 2]  # ONNX z, r, h -> torch r, z, n


def _reorder(w: np.ndarray, order: list[int]) -> np.ndarray:
    blocks = np.split(w, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _check_attrs(node: onnx.NodeProto, attrs: dict, default_acts: list[str]) -> None:
    acts = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    n_dirs = 2 if attrs.get("direction", b"forward") in (b"bidirectional", "bidirectional") else 1
    if acts and acts != default_acts * n_dirs:
        raise UserError(f"{node.op_type} node {node.name!r}: activations {acts} are not supported on ramp ADCs "
                        f"(only the defaults {default_acts}); run it digitally")
    for unsupported in ("clip", "input_forget"):
        if attrs.get(unsupported):
            raise UserError(f"{node.op_type} node {node.name!r}: attribute {unsupported} is not supported")
    if attrs.get("layout", 0) not in (0, 1):
        raise UserError(f"{node.op_type} node {node.name!r}: unknown layout {attrs['layout']}")


def _arg(inputs: list[np.ndarray | None], i: int) -> np.ndarray | None:
    return inputs[i] if i < len(inputs) and inputs[i] is not None and np.size(inputs[i]) > 0 else None


def run_rnn_node(
    node: onnx.NodeProto, inputs: list[np.ndarray | None], config: AnalogRNNConfig | None = None
) -> list[np.ndarray]:
    """Return [Y, Y_h] (GRU) or [Y, Y_h, Y_c] (LSTM) of an ONNX LSTM/GRU node run on analog hardware (None: ideal)."""
    config = config if config is not None else AnalogRNNConfig()
    if node.op_type not in ("LSTM", "GRU"):
        raise UserError(f"run_rnn_node handles LSTM and GRU nodes, got {node.op_type}")
    is_lstm = node.op_type == "LSTM"
    attrs = _attrs(node)
    _check_attrs(node, attrs, ["Sigmoid", "Tanh", "Tanh"] if is_lstm else ["Sigmoid", "Tanh"])
    if is_lstm and _arg(inputs, 7) is not None:
        raise UserError(f"LSTM node {node.name!r}: peephole weights (input P) are not supported on analog tiles")
    layout = attrs.get("layout", 0)
    x = np.asarray(inputs[0], dtype=np.float32)
    if layout == 1:
        x = x.transpose(1, 0, 2)
    w, r = np.asarray(inputs[1], np.float32), np.asarray(inputs[2], np.float32)
    n_dirs, hidden = w.shape[0], int(attrs.get("hidden_size", r.shape[-1]))
    steps, batch = x.shape[0], x.shape[1]
    b = _arg(inputs, 3)
    seq_lens = _arg(inputs, 4)
    lens = np.full(batch, steps, np.int64) if seq_lens is None else np.asarray(seq_lens, np.int64)
    h0, c0 = _arg(inputs, 5), _arg(inputs, 6) if is_lstm else None
    if layout == 1:  # batch-first initial states [B, D, H]
        h0 = None if h0 is None else np.asarray(h0).transpose(1, 0, 2)
        c0 = None if c0 is None else np.asarray(c0).transpose(1, 0, 2)
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    order = _LSTM_TO_TORCH if is_lstm else _GRU_TO_TORCH
    y = np.zeros((steps, n_dirs, batch, hidden), np.float32)
    y_h = np.zeros((n_dirs, batch, hidden), np.float32)
    y_c = np.zeros((n_dirs, batch, hidden), np.float32)
    for d in range(n_dirs):
        reverse = direction == "reverse" or (direction == "bidirectional" and d == 1)
        cls = AnalogLSTM if is_lstm else AnalogGRU
        cell = cls(x.shape[2], hidden, config)
        with torch.no_grad():
            cell.weight_ih_l0.copy_(torch.from_numpy(_reorder(w[d], order)))
            cell.weight_hh_l0.copy_(torch.from_numpy(_reorder(r[d], order)))
            bias = np.zeros(2 * len(order) * hidden, np.float32) if b is None else np.asarray(b[d], np.float32)
            cell.bias_ih_l0.copy_(torch.from_numpy(_reorder(bias[: len(order) * hidden], order)))
            cell.bias_hh_l0.copy_(torch.from_numpy(_reorder(bias[len(order) * hidden :], order)))
        h = torch.zeros(batch, hidden) if h0 is None else torch.from_numpy(np.asarray(h0[d], np.float32))
        c = torch.zeros(batch, hidden) if c0 is None else torch.from_numpy(np.asarray(c0[d], np.float32))
        lens_t = torch.from_numpy(lens)
        with torch.no_grad():
            for s in range(steps):
                # reverse runs each sequence backwards from its own last valid step
                t_idx = torch.where(torch.tensor(reverse), lens_t - 1 - s, torch.full_like(lens_t, s))
                valid = (s < lens_t).unsqueeze(1)
                x_t = torch.from_numpy(x)[t_idx.clamp_min(0), torch.arange(batch)]
                if is_lstm:
                    h_new, c_new = cell.step(x_t, h, c)
                    c = torch.where(valid, c_new, c)
                else:
                    h_new = cell.step(x_t, h, linear_before_reset=bool(attrs.get("linear_before_reset", 0)))
                h = torch.where(valid, h_new, h)
                rows = valid[:, 0].nonzero()[:, 0]
                y[t_idx[rows].numpy(), d, rows.numpy()] = h_new[rows].numpy()
        y_h[d], y_c[d] = h.numpy(), c.numpy()
    if layout == 1:
        y, y_h, y_c = y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)
    return [y, y_h, y_c] if is_lstm else [y, y_h]


def rnn_config(
    crossbar: CrossbarConfig, activation: ActivationSpec | None, t_seconds: float, seed: int
) -> AnalogRNNConfig:
    """Return the config the ONNX simulator runs an LSTM/GRU node with: its tiles, gate activations, time, seed."""
    return AnalogRNNConfig(activation=activation or ActivationSpec(), crossbar=crossbar, t_seconds=t_seconds, seed=seed)


ONNX_HANDLERS = {"LSTM": run_rnn_node, "GRU": run_rnn_node}
"""op type -> handler(node, inputs, config) for the ONNX analog simulator."""
