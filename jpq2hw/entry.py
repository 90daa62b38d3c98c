"""The user's Python entry named by a compress config or a sweep spec ('file.py:function' or 'module:function'):
found, imported and its result unpacked, for `jpq2hw compress` and `jpq2hw sweep` alike."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from jpq2hw.errors import JpqError


def load_entry(spec: str, base_dir: Path):
    """'file.py:function' (relative to base_dir) or 'package.module:function' -> the function."""
    if ":" not in spec:
        raise JpqError(f"entry: {spec!r} must look like 'file.py:function' or 'module:function'")
    target, func_name = spec.rsplit(":", 1)
    if target.endswith(".py"):
        path = (base_dir / target).resolve()
        if not path.is_file():
            raise JpqError(f"entry: {path} not found")
        sys.path.insert(0, str(path.parent))  # let the entry import its neighbours
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise JpqError(f"entry: importing {path} failed: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise JpqError(f"entry: cannot import {target!r}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise JpqError(f"entry: {target} has no function {func_name!r}")
    return func


def unpack_entry(result, spec: str) -> dict:
    """The entry function's result as a dict: model, train_loader, val_fn (and example_input, loss_fn)."""
    keys = ("model", "train_loader", "val_fn", "example_input", "loss_fn")
    if isinstance(result, (tuple, list)):
        result = dict(zip(keys, result))
    if not isinstance(result, dict) or not all(k in result for k in keys[:3]):
        raise JpqError(f"entry: {spec} must return a dict (or tuple) with model, train_loader, val_fn")
    return result
