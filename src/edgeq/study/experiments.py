"""The study's PTQ / QAT / conversion experiments on the digits CNN, the char transformer and the outlier MLP.

Every function returns plain dicts of measured figures (JSON-ready); `report.py` turns them into claims.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from onnx import numpy_helper
from torch import nn

from .. import qat
from ..qat.export import export_qat
from ..examples import example_path
from ..metrics import sqnr_db
from ..graph.load import load_model
from .models import (
    CharTransformer,
    DigitsMLP,
    bits_per_char,
    char_data,
    digits_cnn_from_onnx,
    inject_outlier,
    split_digits,
)

EIGHT_BIT = ("int8", "fp8_e2m5", "fp8_e3m4", "fp8_e4m3", "fp8_e5m2")
PTQ_FORMATS = EIGHT_BIT + ("int4", "fp4_e2m1", "mxfp8_e4m3", "mxfp4")
GRANULARITIES = ("tensor", "channel")


@dataclass(frozen=True)
class StudyConfig:
    """Sizes of every experiment; `full()` fits in 30 minutes on 2 cores, `quick()` in 3."""

    theory_samples: int = 1 << 18
    theory_seeds: int = 3
    convergence_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    cnn_qat_epochs: int = 3
    char_context: int = 32
    char_train: int = 20_000
    char_valid: int = 2_000
    char_epochs: int = 4
    char_qat_epochs: int = 1
    outlier_ks: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0, 256.0)
    seed: int = 0

    @classmethod
    def full(cls) -> "StudyConfig":
        """Return the full study's sizes."""
        return cls()

    @classmethod
    def quick(cls) -> "StudyConfig":
        """Return CI sizes: the same experiments on fewer samples, steps and formats."""
        return cls(theory_samples=1 << 15, theory_seeds=2, convergence_sizes=(10_000, 100_000), cnn_qat_epochs=1,
                   char_train=4_000, char_valid=500, char_epochs=2, char_qat_epochs=1, outlier_ks=(1.0, 16.0, 256.0))


def _seed(seed: int) -> None:
    torch.manual_seed(seed)


def _logits(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(x).numpy()


def layer_sqnr(float_model: nn.Module, q_model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Return each quantized layer's output SQNR (dB) against the float model's same layer on the same input."""
    outs: dict[tuple[str, str], np.ndarray] = {}
    names = list(qat.quant_layers(q_model))
    handles = []
    for tag, model in (("f", float_model), ("q", q_model)):
        for name in names:
            module = model.get_submodule(name)
            handles.append(module.register_forward_hook(
                lambda _m, _i, out, key=(tag, name): outs.__setitem__(key, out.detach().numpy())))
    with torch.no_grad():
        float_model(x)
        q_model(x)
    for h in handles:
        h.remove()
    return {name: sqnr_db(outs[("f", name)], outs[("q", name)]) for name in names}


# ------------------------------------------------------------------------------------------------ digits CNN


def run_cnn(cfg: StudyConfig, progress: bool = False) -> dict:
    """PTQ formats x granularities, per-layer SQNR, QAT per 8-bit format, FP8-trained -> INT8 on the digits CNN."""
    _seed(cfg.seed)
    data = split_digits()
    model = digits_cnn_from_onnx()
    xe, ye = torch.from_numpy(data["eval_x"]), data["eval_y"]
    xt, yt = torch.from_numpy(data["train_x"]), torch.from_numpy(data["train_y"])
    calib = [torch.from_numpy(data["calib_x"])]
    ref = _logits(model, xe)
    acc = lambda m: float(np.mean(_logits(m, xe).argmax(1) == ye))  # noqa: E731
    out: dict = {"fp32_acc": acc(model), "ptq": {}, "layer_sqnr": {}, "qat": {}}
    for fmt in PTQ_FORMATS:
        for gran in GRANULARITIES:
            q = qat.prepare(model, fmt, fmt, gran, calib=calib)
            out["ptq"][f"{fmt}/{gran}"] = {"acc": acc(q), "sqnr_db": sqnr_db(ref, _logits(q, xe))}
            if gran == "channel" and fmt in EIGHT_BIT:
                out["layer_sqnr"][fmt] = layer_sqnr(model, q, xe)
    fit = qat.FitConfig(epochs=cfg.cnn_qat_epochs, lr=1e-3, seed=cfg.seed)
    control = copy.deepcopy(model)
    qat.fit(control, xt, yt, fit, progress=progress, desc="cnn fp32 fine-tune")
    out["fp32_finetuned_acc"] = acc(control)
    trained = {}
    for fmt in EIGHT_BIT:
        q = qat.prepare(model, fmt, fmt, "channel", calib=calib)
        before = acc(q)
        qat.fit(q, xt, yt, fit, progress=progress, desc=f"cnn qat {fmt}")
        trained[fmt] = q
        exported = export_qat(q, xe)
        worst = min(exported.fidelity.values(), key=lambda f: f.sqnr_db)
        out["qat"][fmt] = {"ptq_acc": before, "qat_acc": acc(q), "onnx_fidelity_sqnr_db": worst.sqnr_db,
                           "onnx_agreement": worst.agreement,
                           "onnx_ok": bool(all(f.ok for f in exported.fidelity.values()))}
    # FP8-trained -> INT8: re-quantize the E4M3-trained weights to INT8 (no retraining) vs FP32 -> INT8.
    fp8_trained = trained["fp8_e4m3"]
    fp8_float = qat.float_model(fp8_trained)
    converted = qat.convert(fp8_trained, calib, "int8", "int8")
    direct = qat.prepare(model, "int8", "int8", "channel", calib=calib)
    out["conversion"] = {
        "fp8_qat_acc": acc(fp8_trained),
        "fp8_trained_to_int8_acc": acc(converted),
        "fp8_trained_to_int8_sqnr_db": sqnr_db(_logits(fp8_float, xe), _logits(converted, xe)),
        "fp32_to_int8_acc": acc(direct),
        "fp32_to_int8_sqnr_db": sqnr_db(ref, _logits(direct, xe)),
    }
    return out


# ------------------------------------------------------------------------------------------ char transformer


def activation_outliers(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Return, per Linear layer, max|input| / std(input): how far the largest activation sits from the bulk."""
    stats: dict[str, float] = {}
    handles = [
        m.register_forward_hook(lambda _m, inp, _o, n=name: stats.__setitem__(
            n, float(inp[0].abs().max() / inp[0].std())))
        for name, m in model.named_modules() if isinstance(m, nn.Linear)
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return stats


def run_transformer(cfg: StudyConfig, progress: bool = False) -> dict:
    """Train a char transformer on Python's docs, then PTQ formats x granularities and QAT per 8-bit format."""
    _seed(cfg.seed)
    data = char_data(cfg.char_context, cfg.char_train, cfg.char_valid, cfg.seed)
    model = CharTransformer(len(data.vocab), cfg.char_context)
    x, y = data.train[:, :-1], data.train[:, 1:]
    qat.fit(model, x, y, qat.FitConfig(epochs=cfg.char_epochs, lr=3e-3, seed=cfg.seed), progress=progress,
            desc="char transformer fp32")
    calib = [x[:256]]
    out: dict = {"vocab": len(data.vocab), "fp32_bpc": bits_per_char(model, data.valid), "ptq": {}, "qat": {},
                 "outliers": activation_outliers(model, data.valid[:256, :-1])}
    for fmt in EIGHT_BIT:
        for gran in GRANULARITIES:
            q = qat.prepare(model, fmt, fmt, gran, calib=calib)
            out["ptq"][f"{fmt}/{gran}"] = {"bpc": bits_per_char(q, data.valid)}
    fit = qat.FitConfig(epochs=cfg.char_qat_epochs, lr=5e-4, seed=cfg.seed + 1)
    control = copy.deepcopy(model)
    qat.fit(control, x, y, fit, progress=progress, desc="char fp32 fine-tune")
    out["fp32_finetuned_bpc"] = bits_per_char(control, data.valid)
    for fmt in EIGHT_BIT:
        q = qat.prepare(model, fmt, fmt, "channel", calib=calib)
        qat.fit(q, x, y, fit, progress=progress, desc=f"char qat {fmt}")
        out["qat"][fmt] = {"ptq_bpc": out["ptq"][f"{fmt}/channel"]["bpc"], "qat_bpc": bits_per_char(q, data.valid)}
    return out


# --------------------------------------------------------------------------------------- outlier-channel MLP


def digits_mlp_from_onnx() -> DigitsMLP:
    """Return the torch twin of examples/digits_mlp.onnx with the shipped weights."""
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
               for t in load_model(example_path("digits_mlp.onnx")).graph.initializer}
    model = DigitsMLP()
    model.load_state_dict(weights)
    return model.eval()


def run_outliers(cfg: StudyConfig) -> dict:
    """Inject an outlier channel of size k into the digits MLP's hidden layer; PTQ per format, and W8A16 there."""
    _seed(cfg.seed)
    data = split_digits()
    base = digits_mlp_from_onnx()
    xe, ye = torch.from_numpy(data["eval_x"]), data["eval_y"]
    calib = [torch.from_numpy(data["calib_x"])]
    # The channel with the largest mean activation: the outlier then carries real signal, as in LLMs.
    with torch.no_grad():
        hidden = torch.relu(base.fc1(xe.flatten(1)))
    channel = int(hidden.mean(0).argmax())
    ref = _logits(base, xe)
    out: dict = {"channel": channel, "fp32_acc": float(np.mean(ref.argmax(1) == ye)), "by_k": {}}
    for k in cfg.outlier_ks:
        model = inject_outlier(base, channel, k)
        row = {"fp32_sqnr_db": sqnr_db(ref, _logits(model, xe))}
        variants = {fmt: {} for fmt in EIGHT_BIT}
        variants["int8 W8A16 on fc2"] = {"overrides": {"fc2": ("int8", "int16")}}
        for name, extra in variants.items():
            fmt = name.split()[0]
            q = qat.prepare(model, fmt, fmt, "channel", calib=calib, **extra)
            logits = _logits(q, xe)
            row[name] = {"acc": float(np.mean(logits.argmax(1) == ye)), "sqnr_db": sqnr_db(ref, logits)}
        out["by_k"][str(k)] = row
    return out


# ------------------------------------------------------------------------------------------- hardware cost


def mac_costs(formats: tuple[str, ...] = EIGHT_BIT) -> dict | None:
    """Return gates and energy per MAC for each format (INT8: the paper's 27-bit Kulisch accumulator and int32;
    FP8: FP16 and FP32), if available."""
    try:
        from ..hw_models import mac_cost
    except ImportError:
        return None
    out = {}
    for fmt in formats:
        accs = ("kulisch", "int32") if fmt.startswith("int") else ("fp16", "fp32")
        for acc in accs:
            c = mac_cost(fmt, fmt, acc)
            out[f"{fmt}/{acc}"] = {"gates": c.gates, "energy_pj": c.energy_pj, "area_um2": c.area_um2,
                                   "tech_nm": c.tech_nm}
    return out
