"""Sparsity, weight memory and BOPs: the one set of definitions used by `jpq2hw compress` (from the torch
model), the build report and `jpq2hw report` (from the QONNX graph), examples/*/RESULTS.md and README.
docs/report.md states them for readers. No torch here: the build path imports this module.

Per weight layer (Conv, ConvTranspose, MatMul/Linear), with
  N   = weights of the stored kernel, nz = its nonzero weights after quantization (pruned or rounded to 0),
  b_w = weight bits, b_a = bits of the activation feeding the layer (32 if not quantized),
  rows = output channels (Conv, Linear) or input channels (ConvTranspose), F = N / rows (fan-in of a row),
  idx = max(1, ceil(log2 F)), cnt = ceil(log2(F + 1)),
  P   = positions: output pixels (Conv), input pixels (ConvTranspose), 1 (dense),
  c   = copies: how many times the same kernel runs side by side (2 for a Siamese conv shared by two views,
        which a QONNX file holds as one Conv with a block-diagonal weight; else 1):

  sparsity           = 1 - sum(nz) / sum(N)                       (each shared kernel once)
  weight memory bits = min(N * b_w, nz * (b_w + idx) + rows * cnt) + biases * b_bias
                       (the cheaper of dense and CSR storage; each shared kernel and its bias stored once)
  BOPs               = c * nz * P * b_w * b_a                     (every copy computes)

A float model counts b_w = b_a = b_bias = 32; "dense float32" (the baseline reductions are quoted against)
is the same network with nz = N and everything at 32 bits.
"""

from __future__ import annotations

import math

import numpy as np

FLOAT_BITS = 32


def dense_bits(total: int, weight_bits: int) -> int:
    return total * weight_bits


def sparse_bits(nonzero: int, total: int, rows: int, weight_bits: int) -> int:
    fan_in = max(total // max(rows, 1), 1)
    index_bits = max(1, math.ceil(math.log2(fan_in)))
    count_bits = math.ceil(math.log2(fan_in + 1))
    return nonzero * (weight_bits + index_bits) + rows * count_bits


def layer_memory_bits(nonzero: int, total: int, rows: int, weight_bits: int, bias_count: int = 0,
                      bias_bits: int = FLOAT_BITS) -> int:
    weights = min(dense_bits(total, weight_bits), sparse_bits(nonzero, total, rows, weight_bits))
    return weights + bias_count * bias_bits


def layer_bops(nonzero: int, positions: int, weight_bits: int, act_bits: int, copies: int = 1) -> int:
    return copies * nonzero * positions * weight_bits * act_bits


def layer_entry(name: str, total: int, nonzero: int, rows: int, positions: int, weight_bits: int,
                act_bits: int | None, bias_count: int = 0, bias_bits: int = FLOAT_BITS, copies: int = 1) -> dict:
    """One layer's figures (the dict `summarize` totals), with the same layer dense at 32-bit float (float_*)
    and dense at its own bit widths (dense_*)."""
    a_bits = act_bits or FLOAT_BITS
    return {"name": name, "total": total, "nonzero": nonzero, "weight_bits": weight_bits, "act_bits": a_bits,
            "copies": copies,
            "memory_bits": layer_memory_bits(nonzero, total, rows, weight_bits, bias_count, bias_bits),
            "bops": layer_bops(nonzero, positions, weight_bits, a_bits, copies),
            "float_memory_bits": layer_memory_bits(total, total, rows, FLOAT_BITS, bias_count, FLOAT_BITS),
            "float_bops": layer_bops(total, positions, FLOAT_BITS, FLOAT_BITS, copies),
            "dense_memory_bits": layer_memory_bits(total, total, rows, weight_bits, bias_count, bias_bits),
            "dense_bops": layer_bops(total, positions, weight_bits, a_bits, copies)}


def summarize(layers: list[dict]) -> dict:
    """Totals over `layer_entry` dicts; `dense_float32` is the same network dense at 32 bits."""
    total = sum(l["total"] for l in layers)
    nonzero = sum(l["nonzero"] for l in layers)
    return {"weights": total, "nonzero": nonzero, "sparsity": 1 - nonzero / total if total else 0.0,
            "memory_bits": sum(l["memory_bits"] for l in layers), "bops": sum(l["bops"] for l in layers),
            "dense_float32": {"memory_bits": sum(l["float_memory_bits"] for l in layers),
                              "bops": sum(l["float_bops"] for l in layers)},
            "layers": layers}


def shared_copies(weight: np.ndarray, out_axis: int = 0, in_axis: int = 1) -> int:
    """2 when `weight` is block-diagonal over (out, in) channels with two equal blocks (one kernel shared by
    two views, as a Siamese conv is exported), else 1. A kernel of all zeros is not called shared."""
    w = np.moveaxis(np.asarray(weight), (out_axis, in_axis), (0, 1))
    co, ci = w.shape[0], w.shape[1]
    if co % 2 or ci % 2 or not np.any(w):
        return 1
    h, k = co // 2, ci // 2
    off_diagonal_zero = not np.any(w[:h, k:]) and not np.any(w[h:, :k])
    return 2 if off_diagonal_zero and np.array_equal(w[:h, :k], w[h:, k:]) else 1


def shared_kernel(weight: np.ndarray, copies: int, out_axis: int = 0, in_axis: int = 1) -> np.ndarray:
    """The stored kernel of a weight that holds `copies` copies of it on its block diagonal."""
    if copies == 1:
        return np.asarray(weight)
    w = np.moveaxis(np.asarray(weight), (out_axis, in_axis), (0, 1))
    kernel = w[: w.shape[0] // copies, : w.shape[1] // copies]
    return np.moveaxis(kernel, (0, 1), (out_axis, in_axis))


def stored_bias_count(bias: np.ndarray, copies: int) -> int:
    """Biases stored for a kernel used `copies` times: once when every copy's bias is the same vector."""
    b = np.asarray(bias).ravel()
    if copies > 1 and b.size % copies == 0 and all(np.array_equal(p, b[: b.size // copies])
                                                   for p in np.split(b, copies)):
        return b.size // copies
    return int(b.size)
