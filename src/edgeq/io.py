"""File helpers shared by every command: atomic writes, the one JSON writer, and loading named input arrays.

JSON rule (every file and every `--json` edgeq prints): strictly valid JSON (RFC 8259). Non-finite floats, which
JSON cannot hold, are written as the strings "inf" and "-inf", and NaN as null; NumPy scalars and arrays become
plain numbers and lists. `read_json_number` reads such a value back as a float.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError

_INF_STRINGS = {"inf": math.inf, "-inf": -math.inf}


def json_safe(value):
    """Return `value` with NumPy types made plain and non-finite floats replaced per the JSON rule above."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def dumps_json(value, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Return strictly valid JSON text for `value` (trailing newline when indented), per the module's rule."""
    text = json.dumps(json_safe(value), indent=indent, sort_keys=sort_keys, allow_nan=False)
    return text + "\n" if indent is not None else text


def write_json(path: str | os.PathLike, value, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """Write `value` as JSON to `path` atomically (see `dumps_json`)."""
    atomic_write_text(path, dumps_json(value, indent=indent, sort_keys=sort_keys))


def read_json_number(value) -> float | None:
    """Return a float from a number written by `dumps_json` ("inf"/"-inf" strings, null for NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        return _INF_STRINGS[value]
    return float(value)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path through a temp file in the same folder and a rename, so no partial file is ever seen."""
    path = Path(path)
    if not path.parent.exists():
        raise UserError(f"output folder {path.parent} does not exist; create it or choose another output path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise UserError(f"cannot write to {path.parent} ({err.strerror}); choose a writable output folder") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Return the named arrays in an .npz file or a folder of .npy files (name = file stem)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"data file {path} does not exist; pass an .npz or a folder of .npy files")
    try:
        if path.is_dir():
            files = sorted(path.glob("*.npy"))
            if not files:
                raise UserError(f"folder {path} has no .npy files; put one <input name>.npy per model input there")
            return {f.stem: np.load(f, allow_pickle=False) for f in files}
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except UserError:
        raise
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path} as .npz/.npy data ({err}); save it with numpy.savez") from None
