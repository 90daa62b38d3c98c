"""Load an ONNX/QONNX file (with external data beside it) into a qonnx ModelWrapper, or fail in one line."""

from __future__ import annotations

import os
import stat
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
        if location is None:
            problem = "is not named"
        elif "\0" in location:  # the system cannot even look such a name up
            problem = "is not a valid file name (it holds a NUL byte)"
        else:
            problem = not_a_regular_file(path.parent / location)
        if problem:
            raise JpqError(f"{path}: external data file '{location}' for tensor '{tensor.name}' {problem} "
                           f"(it must be a regular file beside the model)")
    try:
        load_external_data_for_model(proto, str(path.parent))
    except Exception as exc:
        raise JpqError(f"{path}: cannot read external data ({exc})") from None


def not_a_regular_file(path: Path) -> str | None:
    """None for a regular file (symlinks followed), else what it is: reading a FIFO blocks, a device never ends."""
    try:
        mode = os.stat(path).st_mode  # stat does not open: safe on a FIFO
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    kinds = [(stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket")]
    return "is " + next((what for test, what in kinds if test(mode)), "not a regular file") + ", not a file"
