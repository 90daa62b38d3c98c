"""Load an ONNX/QONNX file (with external data beside it) into a qonnx ModelWrapper, or fail in one line."""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError


def load_model(path: str | Path) -> ModelWrapper:
    path = Path(path)
    if not path.exists():
        raise JpqError(f"{path}: no such file")
    if not path.is_file():
        raise JpqError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise JpqError(f"{path}: empty file, not an ONNX model")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeWarning, ValueError, OSError) as exc:
        raise JpqError(f"{path}: not an ONNX model (truncated or corrupt: {type(exc).__name__})") from None
    except Exception as exc:  # protobuf raises several private error types on garbage
        raise JpqError(f"{path}: not an ONNX model ({type(exc).__name__})") from None
    if not proto.graph.node:
        raise JpqError(f"{path}: not an ONNX model (no graph nodes)")
    _load_external_data(proto, path)
    return ModelWrapper(proto)


def _load_external_data(proto: onnx.ModelProto, path: Path) -> None:
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    external = [t for t in proto.graph.initializer if uses_external_data(t)]
    if not external:
        return
    for tensor in external:
        location = next((e.value for e in tensor.external_data if e.key == "location"), None)
        if location is None or not (path.parent / location).is_file():
            raise JpqError(
                f"{path}: external data file '{location}' for tensor '{tensor.name}' is missing "
                f"(it must sit beside the model)"
            )
    try:
        load_external_data_for_model(proto, str(path.parent))
    except Exception as exc:
        raise JpqError(f"{path}: cannot read external data ({exc})") from None
