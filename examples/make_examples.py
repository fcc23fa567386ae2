"""Regenerate the shipped digits example models and data, deterministically (same bytes on rerun).

    python examples/make_examples.py            # writes examples/digits_{mlp,cnn}.onnx and digits_{calib,eval}.npz

Data: scikit-learn's bundled 8x8 digits (1797 images, no download), pixels scaled to [0, 1]. A fixed shuffle keeps
500 images for evaluation; 256 of the remaining 1297 training images form the calibration set. Both models take
the input `image` of shape [N, 1, 8, 8] (dynamic batch) and return `logits` [N, 10]. The ONNX graphs are written
node by node with onnx.helper (not through an exporter) so the files stay byte-identical across torch versions;
the CNN keeps a BatchNormalization node so quantizers have a BN to fold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
EVAL_SIZE = 500
CALIB_SIZE = 256
OPSET = 17
BATCH = 64
EPOCHS = 60


def split_digits() -> dict[str, np.ndarray]:
    """Return the fixed train/calib/eval split of the digits data as float32 [N,1,8,8] images and int64 labels."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(labels))
    eval_idx, train_idx = order[:EVAL_SIZE], order[EVAL_SIZE:]
    return {
        "train_x": images[train_idx],
        "train_y": labels[train_idx],
        "calib_x": images[train_idx[:CALIB_SIZE]],
        "eval_x": images[eval_idx],
        "eval_y": labels[eval_idx],
    }


class DigitsMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.conv3(x))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int) -> nn.Module:
    """Train with AdamW and a one-cycle schedule on a fixed batch order; returns the model in eval mode."""
    generator = torch.Generator().manual_seed(SEED)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    steps = epochs * ((len(ys) + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(ys), generator=generator).split(BATCH):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xs[idx]), ys[idx]).backward()
            opt.step()
            schedule.step()
    return model.eval()


def _init(name: str, tensor: torch.Tensor) -> TensorProto:
    return numpy_helper.from_array(tensor.detach().numpy().astype(np.float32), name)


def _gemm(prefix: str, layer: nn.Linear, src: str, dst: str):
    nodes = [helper.make_node("Gemm", [src, f"{prefix}.weight", f"{prefix}.bias"], [dst], name=prefix, transB=1)]
    return nodes, [_init(f"{prefix}.weight", layer.weight), _init(f"{prefix}.bias", layer.bias)]


def _conv(prefix: str, layer: nn.Conv2d, src: str, dst: str):
    node = helper.make_node(
        "Conv", [src, f"{prefix}.weight", f"{prefix}.bias"], [dst], name=prefix, kernel_shape=[3, 3], pads=[1, 1, 1, 1]
    )
    return [node], [_init(f"{prefix}.weight", layer.weight), _init(f"{prefix}.bias", layer.bias)]


def _relu(src: str, dst: str):
    return helper.make_node("Relu", [src], [dst], name=f"relu_{dst}")


def mlp_graph(model: DigitsMLP) -> onnx.ModelProto:
    """Return the MLP as an ONNX model: Flatten, Gemm, Relu, Gemm, Relu, Gemm."""
    nodes = [helper.make_node("Flatten", ["image"], ["flat"], name="flatten", axis=1)]
    inits: list[TensorProto] = []
    for prefix, src, dst, relu in (("fc1", "flat", "h1", True), ("fc2", "h1r", "h2", True), ("fc3", "h2r", "logits", False)):
        n, i = _gemm(prefix, getattr(model, prefix), src, dst)
        nodes += n + ([_relu(dst, dst + "r")] if relu else [])
        inits += i
    return _model(nodes, inits, "digits_mlp")


def cnn_graph(model: DigitsCNN) -> onnx.ModelProto:
    """Return the CNN as an ONNX model with a BatchNormalization after the first Conv."""
    nodes, inits = _conv("conv1", model.conv1, "image", "c1")
    bn = model.bn1
    nodes.append(
        helper.make_node(
            "BatchNormalization", ["c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"], ["b1"], name="bn1",
            epsilon=bn.eps,
        )
    )
    inits += [_init("bn1.scale", bn.weight), _init("bn1.bias", bn.bias)]
    inits += [_init("bn1.mean", bn.running_mean), _init("bn1.var", bn.running_var)]
    nodes.append(_relu("b1", "b1r"))
    n, i = _conv("conv2", model.conv2, "b1r", "c2")
    nodes += n + [_relu("c2", "c2r"), helper.make_node("MaxPool", ["c2r"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2])]
    inits += i
    n, i = _conv("conv3", model.conv3, "p2", "c3")
    nodes += n + [_relu("c3", "c3r"), helper.make_node("Flatten", ["c3r"], ["flat"], name="flatten", axis=1)]
    inits += i
    n, i = _gemm("fc1", model.fc1, "flat", "f1")
    nodes += n + [_relu("f1", "f1r")]
    inits += i
    n, i = _gemm("fc2", model.fc2, "f1r", "logits")
    return _model(nodes + n, inits + i, "digits_cnn")


def _model(nodes, inits, name: str) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgeq-examples")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="output folder")
    args = parser.parse_args(argv)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # one thread: reductions run in a fixed order, so reruns give the same bytes
    torch.use_deterministic_algorithms(True)
    data = split_digits()
    mlp = train(DigitsMLP(), data["train_x"], data["train_y"], EPOCHS)
    cnn = train(DigitsCNN(), data["train_x"], data["train_y"], EPOCHS)
    for name, model, graph in (("mlp", mlp, mlp_graph(mlp)), ("cnn", cnn, cnn_graph(cnn))):
        onnx.save(graph, args.out / f"digits_{name}.onnx")
        with torch.no_grad():
            acc = (model(torch.from_numpy(data["eval_x"])).argmax(1).numpy() == data["eval_y"]).mean()
        print(f"digits_{name}.onnx: eval accuracy {acc:.4f}")
    # np.savez stores no timestamps, so the npz bytes are a function of the arrays alone.
    np.savez(args.out / "digits_calib.npz", image=data["calib_x"])
    np.savez(args.out / "digits_eval.npz", image=data["eval_x"], labels=data["eval_y"])


if __name__ == "__main__":
    main()
