"""File helpers shared by every command: atomic writes and loading named input arrays."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError


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
