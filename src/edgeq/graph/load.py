"""Load an ONNX model safely: readable, checked, external data kept inside the model's folder, opset >= 13."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnx import external_data_helper, version_converter

from ..errors import UserError
from .util import opset_version

MIN_OPSET = 13  # per-axis QuantizeLinear/DequantizeLinear


def load_model(model_or_path: onnx.ModelProto | bytes | str | os.PathLike, *, external_data: bool = True,
               check: bool = True) -> onnx.ModelProto:
    """Return a checked copy of the model (never the caller's object), upgraded to opset >= 13.

    `external_data=False` checks the external data files but leaves the weights in them (the tensors keep their
    location, offset and length), so a model bigger than memory can be read one tensor at a time
    (`edgeq.ptq.weight_only.tensor_array`, with `external_base(path)`). `check=False` reads the model as it is,
    for running it in onnxruntime: no onnx.checker (it rejects graphs onnxruntime runs, e.g. outputs without a
    shape) and no opset upgrade.
    """
    if isinstance(model_or_path, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(model_or_path)
    elif isinstance(model_or_path, bytes):
        try:
            model = onnx.load_from_string(model_or_path)
        except Exception:  # protobuf raises DecodeError and others on garbage
            raise UserError("the bytes are not an ONNX model (cannot parse them)") from None
    else:
        model = _read(Path(model_or_path), external_data)
    if not check:
        return model
    deferred = not external_data and not isinstance(model_or_path, (onnx.ModelProto, bytes))
    try:  # with the weights left in their files the checker reads the model by path, to find them
        onnx.checker.check_model(os.fspath(model_or_path) if deferred else model)
    except onnx.checker.ValidationError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "invalid graph"
        raise UserError(f"the model fails onnx.checker ({first}); fix or re-export it") from None
    if opset_version(model) < MIN_OPSET:
        model = _upgrade(model)
    return model


def external_base(model_or_path) -> Path | None:
    """Return the folder external data locations are relative to (None for an in-memory model)."""
    return None if isinstance(model_or_path, onnx.ModelProto) else Path(model_or_path).resolve().parent


def _read(path: Path, external_data: bool = True) -> onnx.ModelProto:
    if not path.exists():
        raise UserError(f"model file {path} does not exist; pass the path of an .onnx file")
    if path.is_dir():
        raise UserError(f"{path} is a folder; pass the path of an .onnx file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # protobuf raises DecodeError, RuntimeWarning or others on garbage
        raise UserError(f"{path} is not an ONNX model (cannot parse it); pass an .onnx file") from None
    if not model.graph.node and not model.graph.output:
        raise UserError(f"{path} is not an ONNX model (empty graph); pass an .onnx file")
    _load_external(model, path.resolve().parent, external_data)
    return model


def _load_external(model: onnx.ModelProto, base: Path, load: bool = True) -> None:
    """Load external tensor data, refusing locations outside the model's folder (a model must not read /etc)."""
    for tensor in external_data_helper._get_all_tensors(model):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        target = (base / location).resolve()
        if os.path.isabs(location) or base not in target.parents:
            raise UserError(
                f"external data of tensor {tensor.name} points outside the model's folder ({location}); "
                "move the data file next to the model"
            )
        if not target.is_file():
            raise UserError(f"external data file {location} of tensor {tensor.name} is missing next to the model")
    if not load:
        return
    try:
        external_data_helper.load_external_data_for_model(model, str(base))
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read the model's external data ({err}); check the data files") from None


def _upgrade(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        upgraded = version_converter.convert_version(model, MIN_OPSET)
        onnx.checker.check_model(upgraded)
        return upgraded
    except Exception as err:
        raise UserError(
            f"the model uses opset {opset_version(model)} and could not be upgraded to opset {MIN_OPSET} "
            f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); re-export it with opset >= 13"
        ) from None
