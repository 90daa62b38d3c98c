"""Test vectors on the input quantizer's grid: random over the full range, plus the corners that break
naive fixed point (all minimum, all maximum, zeros), plus the user's own data snapped to the grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jpq2hw.annotate.quant_types import QuantSpec
from jpq2hw.errors import JpqError


def grid_values(q: QuantSpec, ints: np.ndarray) -> np.ndarray:
    return ints.astype(np.float64) * q.scale  # exact: a small integer times a float32 scale


def int_bounds(q: QuantSpec) -> tuple[int, int]:
    """The integer codes the Quant node can output (qonnx's definition: narrow drops one code, signed or not)."""
    from qonnx.custom_op.general.intquant import max_int, min_int

    return int(min_int(q.signed, q.narrow, q.bits)), int(max_int(q.signed, q.narrow, q.bits))


def random_vectors(q: QuantSpec, shape: list[int], n: int, seed: int = 0) -> np.ndarray:
    """n vectors of `shape` (batch dim excluded), the first three being all-min, all-max and zeros."""
    rng = np.random.default_rng(seed)
    if q.bits == 1 and q.signed:  # bipolar: the grid is {-scale, +scale}
        ints = rng.choice([-1, 1], size=[n, *shape])
        corners = [np.full(shape, -1), np.full(shape, 1)]
        for i, c in enumerate(corners[: min(n, 2)]):
            ints[i] = c
        return grid_values(q, ints)
    lo, hi = int_bounds(q)
    ints = rng.integers(lo, hi + 1, size=[n, *shape])
    corners = [np.full(shape, lo), np.full(shape, hi), np.zeros(shape, dtype=int)]
    for i, c in enumerate(corners[: min(n, 3)]):
        ints[i] = c
    return grid_values(q, ints)


def load_user_vectors(path: Path, q: QuantSpec, shape: list[int], head=None) -> np.ndarray:
    """The user's inputs (.npy: one sample of `shape` or a batch of them), through the host head if the model
    has one, then quantized as the model's input Quant node does (round half to even, saturate), so hardware
    and reference see the same values."""
    data = read_user_inputs(path, shape)
    return quantize_inputs(head.run(data) if head is not None else data, q)


def quantize_inputs(data: np.ndarray, q: QuantSpec) -> np.ndarray:
    """Values as the model's input Quant node gives them (round half to even, saturate)."""
    from qonnx.custom_op.general.intquant import int_quant

    return int_quant(
        np.asarray(data, dtype=np.float64), np.float64(q.scale), np.float64(0), np.float64(q.bits), int(q.signed),
        int(q.narrow), q.rounding,
    )


def read_user_inputs(path: Path, shape: list[int]) -> np.ndarray:
    """The user's raw inputs as a batch (n, *shape), checked for shape and finiteness."""
    from jpq2hw.limits import MAX_VECTOR_BYTES, VECTOR_COPIES

    try:  # memory-mapped: the dtype and the shape are checked before a byte of the data is read
        data = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as exc:
        raise JpqError(f"--input-data {path}: cannot read as a .npy array ({type(exc).__name__})") from None
    if not isinstance(data, np.ndarray):
        raise JpqError(f"--input-data {path}: holds several arrays (.npz); give one .npy array")
    if data.dtype.kind not in "biuf":
        kind = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects", "V": "records",
                "M": "dates", "m": "time spans"}.get(data.dtype.kind, f"dtype {data.dtype}")
        raise JpqError(f"--input-data {path}: holds {kind} ({data.dtype}); the model takes real numbers")
    need = int(data.size) * 8 * VECTOR_COPIES
    if need > MAX_VECTOR_BYTES:
        raise JpqError(f"--input-data {path}: {data.size:,} values (shape {list(data.shape)}) need {need / 2**30:.1f} "
                       f"GiB as test vectors, more than {MAX_VECTOR_BYTES / 2**30:.0f} GiB; give fewer samples")
    data = np.asarray(data, dtype=np.float64)
    if list(data.shape) == list(shape):
        data = data[None]
    if list(data.shape[1:]) != list(shape):
        raise JpqError(f"--input-data {path}: shape {list(data.shape)} does not match the model input {shape}")
    if not np.all(np.isfinite(data)):
        raise JpqError(f"--input-data {path}: contains NaN or infinity")
    return data
