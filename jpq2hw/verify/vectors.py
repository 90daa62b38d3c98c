"""Test vectors on the input quantizer's grid: the corners that break naive fixed point (all minimum, all
maximum, zeros), for image inputs a few natural frames (photographs: a spatial error away from the borders shows
there, not on a constant frame), random vectors over the full range, plus the user's own data snapped to the
grid. Whatever the count, one vector at least is not constant."""

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


NATURAL_FRAMES = 3  # per image model, in place of random vectors
CORNERS = {"bipolar": 2, "other": 3}


def image_layout(shape: list[int]) -> int | None:
    """The channel axis (0: [C, H, W], 2: [H, W, C]) of an image-shaped input (at least 4 x 4, at most 4
    channels), None for any other input."""
    if len(shape) != 3:
        return None
    if shape[0] <= 4 and shape[1] >= 4 and shape[2] >= 4:
        return 0
    if shape[2] <= 4 and shape[0] >= 4 and shape[1] >= 4:
        return 2
    return None


def natural_frames(q: QuantSpec, shape: list[int], n: int) -> np.ndarray:
    """n frames of `shape` (an image input) from jpq2hw/data/natural_frames.npz (photographs, provenance in
    NATURAL_FRAMES.md), nearest-neighbour sampled to its size, pixel 0..255 spread over the input's codes."""
    axis = image_layout(shape)
    frames = np.load(Path(__file__).resolve().parent.parent / "data" / "natural_frames.npz")["frames"]
    chw = list(shape) if axis == 0 else [shape[2], shape[0], shape[1]]
    c, h, w = chw
    side = frames.shape[1]
    rows, cols = np.arange(h) * side // h, np.arange(w) * side // w
    out = []
    for i in range(n):
        rgb = frames[i % len(frames)][rows][:, cols].astype(np.float64)  # (h, w, 3)
        planes = [rgb.mean(axis=2)] if c == 1 else [rgb[:, :, k % 3] for k in range(c)]
        img = np.stack(planes)  # (c, h, w)
        out.append(img if axis == 0 else img.transpose(1, 2, 0))
    pixels = np.stack(out)
    if q.bits == 1 and q.signed:
        return grid_values(q, np.where(pixels >= 128, 1, -1))
    lo, hi = int_bounds(q)
    return grid_values(q, lo + np.rint(pixels * (hi - lo) / 255.0).astype(np.int64))


def build_vectors(q: QuantSpec, shape: list[int], n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """n vectors and the kind of each ("corner", "natural", "random"): the corners first, then natural frames
    for an image input, then random ones (random_vectors' values). With n no larger than the corners, the last
    slot holds a natural frame or a random vector instead: a build is never checked on constant vectors alone."""
    xs = random_vectors(q, shape, n, seed)
    corners = min(n, CORNERS["bipolar" if q.bits == 1 and q.signed else "other"])
    if n <= corners:
        corners = n - 1
    kinds = ["corner"] * corners + ["random"] * (n - corners)
    if corners < n and image_layout(shape) is not None:
        k = min(NATURAL_FRAMES, n - corners)
        xs[corners:corners + k] = natural_frames(q, shape, k)
        kinds[corners:corners + k] = ["natural"] * k
    elif kinds[-1] == "random" and xs[-1].size > 1 and np.all(xs[-1] == xs[-1].ravel()[0]):
        flat = xs[-1].reshape(-1)  # a tiny input drew a constant vector: make it vary
        flat[0], flat[1] = grid_values(q, np.array(_extremes(q)))
    return xs, kinds


def _extremes(q: QuantSpec) -> tuple[int, int]:
    return (-1, 1) if q.bits == 1 and q.signed else int_bounds(q)


def describe_kinds(kinds: list[str]) -> str:
    """"3 corners, 3 natural frames, 94 random, 2 user" for the verdict line."""
    names = {"corner": ("corner", "corners"), "natural": ("natural frame", "natural frames"),
             "random": ("random", "random"), "user": ("user", "user")}
    parts = []
    for kind, (one, many) in names.items():
        count = kinds.count(kind)
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    return ", ".join(parts)


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
