"""Fixed-point fake quantizers with power-of-two scales, matching the QONNX `Quant` op exactly.

QONNX `Quant(x, scale, zeropt=0, bitwidth)` (qonnx.custom_op.general.intquant.int_quant) computes

    q = round(clamp(x / scale, min_int, max_int)) * scale

with round = round half to even (numpy.round; torch.round does the same), and

    signed, narrow:     [-(2^(b-1) - 1),  2^(b-1) - 1]
    signed, not narrow: [-2^(b-1),        2^(b-1) - 1]
    unsigned, narrow:   [0,               2^b - 2]
    unsigned:           [0,               2^b - 1]

Scales are powers of two so that x / scale and q * scale are exact in float32 and the hardware needs
only shifts. The straight-through estimator passes the gradient through the rounding (not through
the clamp, so saturated values get no gradient).
"""

from __future__ import annotations

import math

import torch


def int_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    if signed:
        return (-(2 ** (bits - 1)) + (1 if narrow else 0), 2 ** (bits - 1) - 1)
    return (0, 2**bits - (2 if narrow else 1))


def quantize(x: torch.Tensor, scale, bits: int, signed: bool, narrow: bool) -> torch.Tensor:
    """Exact QONNX Quant forward (no gradient trick): clamp, round half to even, rescale."""
    lo, hi = int_range(bits, signed, narrow)
    return torch.round(torch.clamp(x / scale, lo, hi)) * scale


def fake_quantize(x: torch.Tensor, scale, bits: int, signed: bool, narrow: bool) -> torch.Tensor:
    """Same values as `quantize`; gradient is the straight-through estimator inside the range."""
    lo, hi = int_range(bits, signed, narrow)
    clamped = torch.clamp(x / scale, lo, hi)
    rounded = clamped + (torch.round(clamped) - clamped).detach()
    return rounded * scale


def pow2_scale_for_max(max_abs: float, bits: int, signed: bool, narrow: bool) -> float:
    """Smallest power of two scale that represents max_abs without saturation."""
    hi = int_range(bits, signed, narrow)[1]
    if not max_abs > 0 or not math.isfinite(max_abs):
        return 1.0
    return 2.0 ** math.ceil(math.log2(max_abs / hi))


@torch.no_grad()
def weight_scale(weight: torch.Tensor, bits: int, kept: torch.Tensor | None = None,
                 narrow: bool = True, search: int = 3) -> float:
    """Power-of-two scale for a weight tensor: among the no-saturation scale and the `search`
    finer ones, the one with the least squared error on the kept (unpruned) weights. Clipping a few
    outliers pays off at 2-4 bits, and pruned zeros must not pull the choice towards small values."""
    values = weight[kept.bool()] if kept is not None else weight.reshape(-1)
    if values.numel() == 0:
        return 1.0
    coarse = pow2_scale_for_max(values.abs().max().item(), bits, True, narrow)
    best, best_err = coarse, None
    for k in range(search + 1):
        scale = coarse / 2**k
        err = (quantize(values, scale, bits, True, narrow) - values).pow(2).sum().item()
        if best_err is None or err < best_err:
            best, best_err = scale, err
    return best


def bias_scale(bias: torch.Tensor, accumulator_scale: float, bits: int) -> float:
    """Bias scale: the accumulator's scale (input_scale * weight_scale), or a coarser power of two
    if the bias would saturate at `bits` bits. Either way the bias is an integer multiple of the
    accumulator LSB, so the addition is exact in hardware and in float32."""
    needed = pow2_scale_for_max(bias.detach().abs().max().item(), bits, True, False)
    return max(accumulator_scale, needed)
