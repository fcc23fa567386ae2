"""Quantize one model with one peer tool, the way each tool's documentation does it; run in the peer's venv.

Needs numpy, onnx and onnxruntime beside the peer; imports nothing from edgeq or the corpus, so the peers live in
their own venv (/work/peers-venv) and cannot disturb edgeq's pins.
Run: python peers.py TOOL FMT MODEL CALIB_DIR CALIB_NPZ OUT   (TOOL: ort, inc, aimet, modelopt; CALIB_NPZ may be "")
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx


def load_feeds(folder: str) -> list[dict[str, np.ndarray]]:
    """Return the calibration feeds (one dict per run) from a folder of per-feed .npz files."""
    out = []
    for p in sorted(Path(folder).glob("feed_*.npz")):
        with np.load(p) as z:
            out.append({k: z[k] for k in z.files})
    return out


class Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feeds (get_next, rewind)."""

    def __init__(self, feeds: list[dict]):
        self.feeds, self.i = feeds, 0

    def get_next(self):
        self.i += 1
        return self.feeds[self.i - 1] if self.i <= len(self.feeds) else None

    def rewind(self):
        self.i = 0

    def __iter__(self):
        return iter(self.feeds)

    def __len__(self):
        return len(self.feeds)


def preprocess(model: str, tmp: Path) -> str:
    """Return quant_pre_process'd model path (shape inference, folding), or the original when it fails (said)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = tmp / "pre.onnx"
    try:
        quant_pre_process(model, str(out))
        return str(out)
    except Exception as e:  # noqa: BLE001 - recorded; quantize_static may still run on the raw model
        print(f"quant_pre_process failed ({type(e).__name__}: {str(e)[:200]}); quantizing the raw model",
              file=sys.stderr)
        return model


def ort_static(fmt: str, model: str, feeds: list, out: str, tmp: Path) -> None:
    """onnxruntime quantize_static: QDQ, per-channel weights, MinMax, after quant_pre_process."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(preprocess(model, tmp), out, Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)


def inc_static(fmt: str, model: str, feeds: list, out: str, tmp: Path) -> None:
    """Intel onnx-neural-compressor static quantization: QDQ, per-channel, MinMax."""
    from onnx_neural_compressor.quantization import config, quantize
    from onnxruntime.quantization import CalibrationMethod, QuantFormat

    cfg = config.StaticQuantConfig(Reader(feeds), calibrate_method=CalibrationMethod.MinMax,
                                   quant_format=QuantFormat.QDQ, per_channel=True,
                                   calibration_sampling_size=len(feeds))
    quantize(model, out, cfg)


def aimet(fmt: str, model: str, feeds: list, out: str, tmp: Path) -> None:
    """AIMET-ONNX QuantizationSimModel: W8A8 (or FP8 E4M3) encodings from the feeds, exported as a QDQ model."""
    from aimet_onnx.quantsim import QuantizationSimModel

    proto = _static_shapes(onnx.load(model), feeds[0])
    kwargs = {"param_type": "int8", "activation_type": "int8"} if fmt == "int8" else \
        {"param_type": "float8e4m3fn", "activation_type": "float8e4m3fn"}
    sim = QuantizationSimModel(proto, dummy_input=feeds[0], providers=["CPUExecutionProvider"], **kwargs)
    sim.compute_encodings(feeds)
    qdq = sim.to_onnx_qdq()
    onnx.save(qdq, out)


def _static_shapes(proto: onnx.ModelProto, feed: dict) -> onnx.ModelProto:
    """Pin the graph inputs to the feed's shapes: AIMET builds dummy inputs from the declared shapes and fails on
    dynamic (-1, named) dims, which is what a user would work around this way."""
    for inp in proto.graph.input:
        if inp.name in feed:
            dims = inp.type.tensor_type.shape.dim
            for d, n in zip(dims, feed[inp.name].shape):
                d.Clear()
                d.dim_value = n
    return proto


def fixed_shape_npz(model: str, feeds: list, tmp: Path) -> str:
    """Return an .npz of the feeds concatenated along axis 0 when every input has a fixed shape, else "".

    ModelOpt splits each calibration array into runs of the input's declared leading dim, so a fixed state
    input [2, 1, 128] can be given as [2 * runs, 1, 128]; dynamic dims or scalar inputs cannot be split back.
    """
    inits = {t.name for t in onnx.load(model, load_external_data=False).graph.initializer}
    for inp in onnx.load(model, load_external_data=False).graph.input:
        dims = inp.type.tensor_type.shape.dim
        if inp.name not in inits and (not dims or any(not d.HasField("dim_value") for d in dims)):
            return ""
    path = tmp / "calib_fixed.npz"
    np.savez(path, **{k: np.concatenate([f[k] for f in feeds]) for k in feeds[0]})
    return str(path)


def modelopt(fmt: str, model: str, npz: str, out: str, tmp: Path, feeds: list) -> None:
    """NVIDIA ModelOpt ONNX PTQ CLI, max calibration, FP32 kept as the high-precision type (fp16 wrecks some)."""
    npz = npz or fixed_shape_npz(model, feeds, tmp)
    if not npz:
        raise SystemExit("ModelOpt reads calibration data only as an .npz split along each input's leading dim; "
                         "this model has a scalar or dynamic-shaped state input")
    cmd = [sys.executable, "-m", "modelopt.onnx.quantization", "--onnx_path", model, "--quantize_mode",
           "int8" if fmt == "int8" else "fp8", "--calibration_data_path", npz, "--calibration_method", "max",
           "--output_path", out, "--high_precision_dtype", "fp32", "--calibration_eps", "cpu"]
    raise SystemExit(subprocess.run(cmd).returncode)


def main(argv: list[str]) -> int:
    """Dispatch to one peer; exit non-zero on failure (the bench records the last stderr line)."""
    tool, fmt, model, calib_dir, npz, out = argv
    with tempfile.TemporaryDirectory() as tmp:
        if tool == "modelopt":
            modelopt(fmt, model, npz, out, Path(tmp), load_feeds(calib_dir))
        else:
            {"ort": ort_static, "inc": inc_static, "aimet": aimet}[tool](fmt, model, load_feeds(calib_dir), out,
                                                                         Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
