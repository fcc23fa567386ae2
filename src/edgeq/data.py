"""Calibration and evaluation data: load, validate against the model's inputs, and batch."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import numpy as np
import onnx
from onnx import helper

from .errors import UserError
from .io import load_arrays

LABELS = "labels"


def input_specs(model: onnx.ModelProto) -> dict[str, tuple[list[int | None], np.dtype]]:
    """Return input name -> (shape with None for symbolic dims, numpy dtype) for the non-initializer inputs."""
    inits = {t.name for t in model.graph.initializer}
    specs = {}
    for v in model.graph.input:
        if v.name in inits:
            continue
        t = v.type.tensor_type
        # a dim_value of -1 or 0 (old exporters write -1 for "any") is as dynamic as a symbolic dim
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in t.shape.dim]
        specs[v.name] = (dims, np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)))
    return specs


def load_data(source, model: onnx.ModelProto, what: str) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Return (inputs by name, labels or None) from an .npz, a folder of .npy files or a dict, checked against the model."""
    if isinstance(source, (str, os.PathLike)):
        arrays = load_arrays(source)
    elif isinstance(source, Mapping):
        arrays = {k: np.asarray(v) for k, v in source.items()}
    else:
        raise UserError(f"{what} data must be a path (.npz or folder of .npy) or a dict of arrays")
    labels = arrays.pop(LABELS, None)
    specs = input_specs(model)
    missing = [n for n in specs if n not in arrays]
    extra = [n for n in arrays if n not in specs]
    if missing:
        raise UserError(
            f"{what} data has no array for model input(s) {missing} (it has {sorted(arrays)}); "
            f"name one array per input{' plus labels' if what == 'eval' else ''}"
        )
    if extra:
        raise UserError(f"{what} data has arrays {extra} that are not model inputs {list(specs)}; remove or rename them")
    n = None
    out = {}
    for name, (dims, dtype) in specs.items():
        a = arrays[name]
        if a.ndim != len(dims) or any(d is not None and d != n for d, n in zip(dims[1:], a.shape[1:])):
            raise UserError(f"{what} array {name!r} has shape {list(a.shape)}, the model expects {_shape(dims)}")
        if a.shape[0] == 0:
            raise UserError(f"{what} array {name!r} is empty; give at least one sample")
        if dims[0] is not None and a.shape[0] % dims[0]:
            raise UserError(
                f"the model's input {name!r} has a fixed batch size of {dims[0]}; give a multiple of {dims[0]} "
                f"{what} samples (got {a.shape[0]}) or export the model with a dynamic batch dimension"
            )
        if not _dtype_fits(a.dtype, dtype):
            raise UserError(f"{what} array {name!r} has dtype {a.dtype}, the model expects {dtype}")
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            raise UserError(f"{what} array {name!r} contains NaN or inf; clean the data first")
        if n is not None and a.shape[0] != n:
            raise UserError(f"{what} arrays have different numbers of samples ({n} and {a.shape[0]})")
        n = a.shape[0]
        out[name] = a.astype(dtype, copy=False)
    if labels is not None and labels.shape[0] != n:
        raise UserError(f"{what} labels have {labels.shape[0]} entries for {n} samples; give one label per sample")
    return out, labels


def _dtype_fits(have: np.dtype, want: np.dtype) -> bool:
    """Floats accept float or integer data (cast); integer and bool inputs need data of their own kind."""
    if np.issubdtype(want, np.floating):
        return np.issubdtype(have, np.floating) or np.issubdtype(have, np.integer)
    if want == np.bool_:
        return have == np.bool_
    return np.issubdtype(have, np.integer)


def _shape(dims) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in dims) + "]"


def random_data(model: onnx.ModelProto, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Return n standard-normal samples per float input (uniform [0, 1) is not assumed), zeros for others."""
    out = {}
    for name, (dims, dtype) in input_specs(model).items():
        shape = [n] + [d if d is not None else 1 for d in dims[1:]]
        if np.issubdtype(dtype, np.floating):
            out[name] = rng.standard_normal(shape).astype(dtype)
        else:
            out[name] = np.zeros(shape, dtype=dtype)
    return out


def batch_size_for(model: onnx.ModelProto, preferred: int = 256) -> int:
    """Return the batch size the model accepts: its fixed leading dim if any, else `preferred`."""
    fixed = [dims[0] for dims, _ in input_specs(model).values() if dims and dims[0] is not None]
    return fixed[0] if fixed else preferred


def batches(data: Mapping[str, np.ndarray], size: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield consecutive batches of `size` samples (the last may be smaller unless the size is fixed)."""
    n = next(iter(data.values())).shape[0]
    for start in range(0, n, size):
        yield {k: v[start : start + size] for k, v in data.items()}
