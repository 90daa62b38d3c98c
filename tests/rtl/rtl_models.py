"""Small QONNX models for the RTL tests (QonnxBuilder, NCHW; the build makes them channels-last)."""

from __future__ import annotations

from pathlib import Path

from testkit.qonnx_builder import QonnxBuilder


def sparse_mlp(path: Path, seed: int = 0) -> Path:
    """16 -> 24 -> 8: signed 8-bit input, 80%/70% sparse 4- and 5-bit weights, bias, ReLU + unsigned 4-bit
    requantization (round half to even, saturating) between the layers; the output is the exact sum."""
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=-5, seed=seed)
    x = b.dense(b.x, 24, wbits=4, w_scale_exp=-3, sparsity=0.8, bias=True)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-1)
    x = b.dense(x, 8, wbits=5, w_scale_exp=-4, sparsity=0.7)
    b.save(x, path)
    return path


def signed_requant_mlp(path: Path, seed: int = 1) -> Path:
    """12 -> 10 -> 6 with a signed narrow 3-bit requantization (saturates often) and no ReLU."""
    b = QonnxBuilder([1, 12], in_bits=6, in_signed=True, in_scale_exp=-3, seed=seed)
    x = b.dense(b.x, 10, wbits=4, w_scale_exp=-2, sparsity=0.5, bias=True)
    x = b.quant(x, 3, signed=True, scale_exp=0, narrow=True)
    x = b.dense(x, 6, wbits=3, w_scale_exp=-1, sparsity=0.6)
    b.save(x, path)
    return path


def small_cnn(path: Path, seed: int = 0) -> Path:
    """1x6x6 image: 3x3 conv (pad 1) + ReLU + 4-bit requant, 2x2 max-pool, 3x3 conv stride 2 (pad 1) with
    bias + signed requant, flatten, dense."""
    b = QonnxBuilder([1, 1, 6, 6], in_bits=6, in_signed=False, in_scale_exp=-6, seed=seed)
    x = b.conv(b.x, 4, k=3, stride=1, pad=1, wbits=4, sparsity=0.5)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-3)
    x = b.maxpool(x)
    x = b.conv(x, 3, k=3, stride=2, pad=1, wbits=3, sparsity=0.6, bias=True)
    x = b.quant(x, 5, signed=True, scale_exp=-3)
    x = b.dense(b.flatten(x), 4, wbits=4, w_scale_exp=-3, sparsity=0.5)
    b.save(x, path)
    return path


def one_layer(path: Path, n_in: int, n_out: int, sparsity: float, seed: int = 0, wbits: int = 4,
              in_bits: int = 8) -> Path:
    """One dense layer (for LUTs vs sparsity on the same shape)."""
    b = QonnxBuilder([1, n_in], in_bits=in_bits, in_signed=True, in_scale_exp=-4, seed=seed)
    x = b.dense(b.x, n_out, wbits=wbits, w_scale_exp=-3, sparsity=sparsity)
    b.save(x, path)
    return path
