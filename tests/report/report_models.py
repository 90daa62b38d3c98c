"""Small QONNX models for the report tests (node by node; no conversion, no compiler needed)."""

from __future__ import annotations

from pathlib import Path

from testkit.qonnx_builder import QonnxBuilder


def conv_net(path: Path, sparsity: float = 0.5, seed: int = 0) -> Path:
    """3x8x8 input -> 3x3 conv (3->8, pad 1, 4-bit w) -> ReLU/Quant(4b) -> max-pool -> conv (8->8, stride 2,
    3-bit w) -> Quant(5b) -> flatten -> dense 32->10 (6-bit w)."""
    b = QonnxBuilder([1, 3, 8, 8], in_bits=8, in_signed=False, in_scale_exp=-8, seed=seed)
    x = b.conv(b.x, 8, k=3, stride=1, pad=1, wbits=4, sparsity=sparsity)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-3)
    x = b.maxpool(x)
    x = b.conv(x, 8, k=3, stride=2, pad=1, wbits=3, sparsity=sparsity)
    x = b.quant(x, 5, signed=True, scale_exp=-3)
    x = b.dense(b.flatten(x), 10, wbits=6, w_scale_exp=-5, sparsity=sparsity)
    b.save(x, path)
    return path


def mlp(path: Path, sparsity: float = 0.9, width: int = 64, seed: int = 0) -> Path:
    b = QonnxBuilder([1, 32], in_bits=8, in_signed=True, in_scale_exp=-5, seed=seed)
    x = b.dense(b.x, width, wbits=4, w_scale_exp=-2, sparsity=sparsity)
    x = b.quant(b.relu(x), 8, signed=False, scale_exp=-2)
    x = b.dense(x, 10, wbits=4, w_scale_exp=-3, sparsity=sparsity)
    b.save(x, path)
    return path
