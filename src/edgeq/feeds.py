"""Feeds: calibration and evaluation data as a re-iterable stream of `session.run` feed dicts, never all in memory.

A `FeedSet` yields one dict (input name -> array) per run, with any shapes, and optionally the labels of that
feed. Sources (`open_feeds`):
    .npz / dict of arrays    one array per input with a leading sample axis, batched; an input whose model shape is
                             fixed and has no sample axis (a recurrent state [2, 1, 128]) takes arrays with one
                             extra leading axis and is fed one sample per run
    folder of .npy           the same, one file per input (name = file stem)
    folder of .npz           one feed per file, fed as stored (any shapes; a `labels` array per file optional)
    .npy                     the single input of a single-input model, leading sample axis
    folder of images         .png/.jpg/.bmp resized and normalised per `ImagePreprocess` (vision models)
    "file.py:function"       a function returning an iterable of feed dicts (called once per pass)
    any object with get_next()   onnxruntime's CalibrationDataReader protocol (rewound when it can be)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from .data import LABELS, input_specs
from .errors import UserError
from .io import load_arrays

RANDOM_DYNAMIC_DIM = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass(frozen=True)
class ImagePreprocess:
    """How a folder of images becomes a model input: resize, channel order, layout, scaling and normalisation.

    Attributes:
        size: (height, width) after resizing; None takes the model input's static H, W.
        layout: "NCHW" or "NHWC".
        bgr: channel order BGR (OpenCV-trained models) instead of RGB.
        scale: multiply pixel values (0..255) by this first (1/255 maps to [0, 1]).
        mean, std: per-channel normalisation after scaling, (x - mean) / std.
    """

    size: tuple[int, int] | None = None
    layout: str = "NCHW"
    bgr: bool = False
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if self.layout not in ("NCHW", "NHWC"):
            raise UserError(f"image layout must be NCHW or NHWC, got {self.layout!r}")
        if any(s == 0 for s in self.std):
            raise UserError("image std must not contain 0")


@dataclass
class FeedSet:
    """A re-iterable source of feed dicts (one per run) with optional per-feed labels.

    Attributes:
        describe: what the data is, for the report ("digits_calib.npz, 256 samples in batches of 64").
        n_samples: samples over all feeds (a feed without a sample axis counts as one).
    """

    make: Callable[[], Iterable[tuple[dict[str, np.ndarray], np.ndarray | None]]]
    describe: str
    n_samples: int
    has_labels: bool = False
    limit: int | None = field(default=None)
    batch: int | None = None  # samples per run when the source has a sample axis, else None (fed as stored)
    runs: int | None = None  # how many feeds one pass yields (for progress bars), None when unknown
    rebatch: Callable[[int], FeedSet] | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for feed, _ in self.with_labels():
            yield feed

    def with_labels(self) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray | None]]:
        """Yield (feed, labels or None) pairs, up to `limit` samples when set."""
        seen = 0
        for feed, labels in self.make():
            if self.limit is not None and seen >= self.limit:
                return
            yield feed, labels
            seen += feed_samples(feed)

    def head(self, n_samples: int) -> FeedSet:
        """Return the same source cut after about `n_samples` samples (whole feeds)."""
        runs = None if self.runs is None or not self.n_samples else min(
            self.runs, -(-n_samples * self.runs // self.n_samples))
        return FeedSet(self.make, self.describe, min(self.n_samples, n_samples), self.has_labels, n_samples,
                       self.batch, runs=runs)

    def with_batch(self, batch: int) -> FeedSet:
        """Return the same data in runs of `batch` samples where it has a sample axis (else unchanged)."""
        if self.rebatch is None or self.batch is None or batch == self.batch:
            return self
        return self.rebatch(batch)

    def first(self) -> dict[str, np.ndarray]:
        """Return the first feed."""
        for feed in self:
            return feed
        raise UserError(f"{self.describe}: no data")


def feed_samples(feed: Mapping[str, np.ndarray]) -> int:
    """Return the number of samples in a feed: the largest leading dim among its inputs (1 for scalars)."""
    dims = [a.shape[0] for a in feed.values() if np.ndim(a) > 0]
    return max(dims) if dims else 1


def open_feeds(source, model: onnx.ModelProto, what: str, *, batch: int = 32,
               image: ImagePreprocess | None = None) -> FeedSet:
    """Return the FeedSet for a data source (see the module docstring), checked against the model's inputs."""
    specs = input_specs(model)
    if isinstance(source, FeedSet):
        return source
    if isinstance(source, Mapping):
        return array_feeds({k: np.asarray(v) for k, v in source.items()}, specs, what, batch, "arrays")
    if hasattr(source, "get_next"):
        return _reader_feeds(source, specs, what)
    if isinstance(source, str) and is_loader_spec(source):
        return _callable_feeds(source, specs, what)
    if not isinstance(source, (str, os.PathLike)):
        raise UserError(f"{what} data must be a path, a dict of arrays, 'file.py:function' or a data reader")
    path = Path(source)
    if not path.exists():
        raise UserError(f"{what} data {path} does not exist; pass an .npz, .npy, a folder of .npz/.npy/images, "
                        "or file.py:function")
    if path.is_dir():
        npz = sorted(path.glob("*.npz"))
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if npz:
            return _folder_feeds(npz, specs, what, path)
        if images:
            return _image_feeds(images, specs, what, image or ImagePreprocess(), batch, path)
        return array_feeds(load_arrays(path), specs, what, batch, path.name)
    if path.suffix == ".npy":
        if len(specs) != 1:
            raise UserError(f"{what} data {path.name} is one .npy array but the model has inputs {list(specs)}; "
                            "use an .npz with one array per input")
        return array_feeds({next(iter(specs)): _load_npy(path)}, specs, what, batch, path.name)
    return array_feeds(load_arrays(path), specs, what, batch, path.name)


def array_feeds(arrays: dict[str, np.ndarray], specs, what: str, batch: int, name: str) -> FeedSet:
    """Return feeds cut from arrays with a leading sample axis (per-sample inputs fed one sample per run)."""
    arrays = dict(arrays)
    labels = arrays.pop(LABELS, None)
    _check_names(arrays, specs, what)
    per_sample = {}  # input -> True when the array has one extra leading axis over a fixed-shape input
    n = None
    for input_name, (dims, dtype) in specs.items():
        a = arrays[input_name]
        extra = a.ndim == len(dims) + 1 and all(d is not None for d in dims)
        if not extra:
            _check_shape(a, dims, what, input_name)
        per_sample[input_name] = extra
        _check_values(a, dtype, what, input_name)
        arrays[input_name] = a.astype(dtype, copy=False)
        if n is not None and a.shape[0] != n:
            raise UserError(f"{what} arrays have different numbers of samples ({n} and {a.shape[0]})")
        n = a.shape[0]
        if n == 0:
            raise UserError(f"{what} array {input_name!r} is empty; give at least one sample")
    fixed = [dims[0] for k, (dims, _) in specs.items() if not per_sample[k] and dims and dims[0] is not None]
    step = 1 if any(per_sample.values()) else (fixed[0] if fixed else max(1, batch))
    if fixed and n % fixed[0]:
        raise UserError(f"the model has a fixed batch size of {fixed[0]}; give a multiple of {fixed[0]} {what} "
                        f"samples (got {n}) or export the model with a dynamic batch dimension")
    if labels is not None:
        labels = _check_labels(labels, n, what)

    def make():
        for start in range(0, n, step):
            feed = {k: (a[start] if per_sample[k] else a[start:start + step]) for k, a in arrays.items()}
            yield feed, None if labels is None else labels[start:start + step]

    unit = "one sample per run" if step == 1 else f"batches of {step}"
    resizable = step > 1 and not fixed  # a fixed batch or per-sample inputs keep their step
    rebatch = (lambda b: array_feeds({**arrays, **({LABELS: labels} if labels is not None else {})}, specs, what,
                                     b, name)) if resizable else None
    return FeedSet(make, f"{name}: {n} samples, {unit}", n, labels is not None, batch=step if resizable else None,
                   rebatch=rebatch, runs=-(-n // step))


def _check_names(arrays, specs, what) -> None:
    missing = [k for k in specs if k not in arrays]
    extra = [k for k in arrays if k not in specs]
    if missing:
        raise UserError(f"{what} data has no array for model input(s) {missing} (it has {sorted(arrays)}); "
                        f"name one array per input{' plus labels' if what == 'eval' else ''}")
    if extra:
        raise UserError(f"{what} data has arrays {extra} that are not model inputs {list(specs)}; remove or rename them")


def _check_shape(a: np.ndarray, dims, what: str, name: str) -> None:
    if a.ndim != len(dims) or any(d is not None and d != s for d, s in zip(dims[1:], a.shape[1:])):
        shape = "[" + ", ".join("N" if d is None else str(d) for d in dims) + "]"
        raise UserError(f"{what} array {name!r} has shape {list(a.shape)}, the model expects {shape} "
                        "(a leading sample axis, or one extra leading axis for a fixed-shape input)")


def _check_values(a: np.ndarray, dtype: np.dtype, what: str, name: str) -> None:
    if np.issubdtype(dtype, np.floating) and not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise UserError(f"{what} array {name!r} has dtype {a.dtype}, the model expects {dtype}")
    if not np.issubdtype(dtype, np.floating) and not (np.issubdtype(a.dtype, np.integer) or a.dtype == dtype):
        raise UserError(f"{what} array {name!r} has dtype {a.dtype}, the model expects {dtype}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise UserError(f"{what} array {name!r} contains NaN or inf; clean the data first")
        if a.size and float(np.max(np.abs(a))) > 1e30:
            raise UserError(f"{what} array {name!r} holds values up to {float(np.max(np.abs(a))):.3g}, beyond any "
                            "sensible model input; check the data (wrong units or uninitialised memory?)")


def _check_labels(labels: np.ndarray, n: int, what: str) -> np.ndarray:
    if labels.shape[:1] != (n,) or labels.ndim != 1:
        raise UserError(f"{what} labels have shape {list(labels.shape)}; give one integer class per sample ({n})")
    if not np.issubdtype(labels.dtype, np.integer):
        if not (np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.rint(labels))):
            raise UserError(f"{what} labels must be integer class indices, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise UserError(f"{what} labels must be class indices >= 0 (found {int(labels.min())})")
    return labels


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path} as .npy ({err}); save it with numpy.save") from None


def _folder_feeds(files: list[Path], specs, what: str, folder: Path) -> FeedSet:
    """One feed per .npz file, as stored: any shapes, checked for names, dtypes and finite values."""
    first = load_arrays(files[0])
    first.pop(LABELS, None)
    _check_names(first, specs, what)
    has_labels = LABELS in load_arrays(files[0])

    def make():
        for f in files:
            arrays = load_arrays(f)
            labels = arrays.pop(LABELS, None)
            _check_names(arrays, specs, f"{what} file {f.name}:")
            feed = {}
            for k, (dims, dtype) in specs.items():
                a = arrays[k]
                if a.ndim != len(dims):
                    raise UserError(f"{what} file {f.name}: array {k!r} has rank {a.ndim}, the model input has "
                                    f"rank {len(dims)}; store each feed exactly as passed to session.run")
                _check_values(a, dtype, what, k)
                feed[k] = a.astype(dtype, copy=False)
            yield feed, labels

    return FeedSet(make, f"{folder.name}/: {len(files)} feeds (.npz, one per run)", len(files), has_labels,
                   runs=len(files))


def _image_feeds(files: list[Path], specs, what: str, pre: ImagePreprocess, batch: int, folder: Path) -> FeedSet:
    from PIL import Image

    if len(specs) != 1:
        raise UserError(f"a folder of images feeds a single-input model; this one has inputs {list(specs)}")
    name, (dims, dtype) = next(iter(specs.items()))
    if len(dims) != 4:
        raise UserError(f"a folder of images feeds a 4-D image input; {name!r} has rank {len(dims)}")
    hw = dims[2:4] if pre.layout == "NCHW" else dims[1:3]
    size = pre.size or (tuple(hw) if None not in hw else None)
    if size is None:
        raise UserError(f"input {name!r} has no static height/width; give the image size (--image-size HxW)")
    step = dims[0] or max(1, batch)
    mean, std = np.asarray(pre.mean, np.float32), np.asarray(pre.std, np.float32)

    def load(path: Path) -> np.ndarray:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB").resize((size[1], size[0]), Image.BILINEAR), dtype=np.float32)
        x = (rgb[..., ::-1] if pre.bgr else rgb) * np.float32(pre.scale)
        x = (x - mean) / std
        return x.transpose(2, 0, 1) if pre.layout == "NCHW" else x

    def make():
        for start in range(0, len(files), step):
            chunk = files[start:start + step]
            if dims[0] is not None and len(chunk) < step:
                return  # a fixed batch takes only full batches
            yield {name: np.stack([load(f) for f in chunk]).astype(dtype, copy=False)}, None

    return FeedSet(make, f"{folder.name}/: {len(files)} images resized to {size[0]}x{size[1]}, {pre.layout}",
                   len(files), runs=len(files) // step if dims[0] is not None else -(-len(files) // step))


def is_loader_spec(source: str) -> bool:
    """Return True for a "file.py:function" data-loader spec."""
    path, sep, func = source.rpartition(":")
    return bool(sep) and path.endswith(".py") and func.isidentifier()


def _callable_feeds(spec: str, specs, what: str) -> FeedSet:
    """Feeds from `file.py:function` (runs the user's code, by design: it is their data loader)."""
    path, _, func = spec.rpartition(":")
    if not Path(path).is_file():
        raise UserError(f"{what} data loader {path} does not exist")
    module_name = f"_edgeq_feeds_{Path(path).stem}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    fn = getattr(module, func, None)
    if not callable(fn):
        raise UserError(f"{path} has no function {func!r}")

    def make():
        for k, feed in enumerate(fn()):
            if not isinstance(feed, Mapping):
                raise UserError(f"{spec} yielded a {type(feed).__name__} at feed {k}; yield dicts input -> array")
            arrays = {n: np.asarray(v) for n, v in feed.items()}
            labels = arrays.pop(LABELS, None)
            _check_names(arrays, specs, f"{what} feed {k} of {spec}:")
            for n, (_, dtype) in specs.items():
                _check_values(arrays[n], dtype, what, n)
                arrays[n] = arrays[n].astype(dtype, copy=False)
            yield arrays, labels

    count = sum(1 for _ in fn())
    if count == 0:
        raise UserError(f"{spec} yielded no feeds")
    return FeedSet(make, f"{spec}: {count} feeds", count, runs=count)


def _reader_feeds(reader, specs, what: str) -> FeedSet:
    """Feeds from an onnxruntime CalibrationDataReader; rewound per pass when it can be, else read once and kept."""
    kept: list[dict[str, np.ndarray]] | None = None
    if not hasattr(reader, "rewind"):
        kept = list(iter(reader.get_next, None))

    def make():
        if kept is not None:
            items = kept
        else:
            reader.rewind()
            items = iter(reader.get_next, None)
        for feed in items:
            arrays = {n: np.asarray(v) for n, v in feed.items()}
            _check_names(arrays, specs, what)
            yield arrays, None

    n = len(kept) if kept is not None else sum(1 for _ in make())
    if n == 0:
        raise UserError(f"the {what} data reader yielded no feeds")
    return FeedSet(make, f"data reader: {n} feeds", n, runs=n)


def random_feeds(model: onnx.ModelProto, n: int, seed: int, batch: int = 32) -> FeedSet:
    """Return n standard-normal samples per float input (zeros for integer inputs), fixed shapes respected."""
    specs = input_specs(model)
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, (dims, dtype) in specs.items():
        if dims and dims[0] is not None and all(d is not None for d in dims):
            shape = [n] + dims  # a fixed-shape input: one extra leading axis, one sample per run
        else:
            # dynamic non-batch dims (sequence length, H, W) get a size most models accept
            shape = [n] + [d if d is not None else RANDOM_DYNAMIC_DIM for d in dims[1:]]
        arrays[name] = rng.standard_normal(shape).astype(dtype) if np.issubdtype(dtype, np.floating) else np.zeros(shape, dtype)
    return array_feeds(arrays, specs, "random", batch, f"{n} random normal samples")
