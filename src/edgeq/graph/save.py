"""Write a model file atomically, with external data when it is too big for one protobuf, following the umask.

A protobuf message cannot exceed 2 GiB, so a model whose tensors pass EXTERNAL_LIMIT goes out as `OUT.onnx` plus
`OUT.onnx.data` (onnx.save_model with save_as_external_data). Both are written into a temp folder beside the target
and renamed into place (data first), so a reader never sees half a model. Files are created with mode 0666 and
the process umask applies, as for any file a user's tool writes (mkstemp would make them 0600).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

EXTERNAL_LIMIT = 2**31 - 2**26  # 2 GiB less 64 MiB for the graph itself
EXTERNAL_MIN_TENSOR = 1024  # bytes; smaller tensors stay inside the .onnx file


def tensor_bytes(model: onnx.ModelProto) -> int:
    """Return the bytes of the model's initializers, counting external data by its recorded length."""
    total = 0
    for t in model.graph.initializer:
        info = {e.key: e.value for e in t.external_data}
        if "length" in info:
            total += int(info["length"])
        elif t.raw_data:
            total += len(t.raw_data)
        else:
            total += int(np.prod(t.dims)) * np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
    return total


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0666 & ~umask, like open(path, "wb")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_model(model: onnx.ModelProto, path: str | os.PathLike, *, external: bool | None = None) -> list[Path]:
    """Write `model` to `path` atomically; return the files written ([path] or [path, path + ".data"]).

    `external`: None decides by size (over EXTERNAL_LIMIT bytes of tensors). With external data the model object
    is left pointing at the written data file (onnx moves the bytes out of it), so no second copy is made.
    """
    path = Path(path)
    if external is None:
        external = tensor_bytes(model) > EXTERNAL_LIMIT
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        if not external:
            _write_new(tmp / path.name, model.SerializeToString())
            os.replace(tmp / path.name, path)
            return [path]
        data_name = f"{path.name}.data"
        _write_new(tmp / data_name, b"")  # created here so the umask applies; onnx appends to it
        onnx.save_model(model, str(tmp / path.name), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_name, size_threshold=EXTERNAL_MIN_TENSOR)
        os.replace(tmp / data_name, path.with_name(data_name))
        os.replace(tmp / path.name, path)
        return [path, path.with_name(data_name)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["EXTERNAL_LIMIT", "save_model", "tensor_bytes"]
