"""The affine map streamlining carries per tensor (real = alpha[c] * hardware + beta[c], maybe clamped) and the
exact rational helpers the op rules use to build it. Every finite float is a dyadic rational, so Fractions
made from float constants are exact."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from jpq2hw.errors import JpqError
from jpq2hw.core.node_names import node_label


@dataclass
class Affine:
    """real value = alpha[c] * hardware value + beta[c] (c along the channel axis; length 1 = per tensor),
    then, if relu is pending: for slope 0 (ReLU, ReLU6, hardtanh) clamped to [lower, upper]; for a LeakyRelu's
    slope > 0, y for y >= 0 and slope * y below."""

    alpha: list[Fraction]
    beta: list[Fraction]
    relu: bool = False
    slope: Fraction = Fraction(0)
    lower: Fraction = Fraction(0)
    upper: Fraction | None = None

    @property
    def per_tensor(self) -> bool:
        return len(set(self.alpha)) == 1 and len(set(self.beta)) == 1

    def scalar(self) -> "Affine":
        return Affine([self.alpha[0]], [self.beta[0]], self.relu, self.slope, self.lower, self.upper)


def is_power_of_two(x: Fraction) -> bool:
    if x <= 0:
        return False
    n, d = x.numerator, x.denominator
    return (n & (n - 1)) == 0 and (d & (d - 1)) == 0


def frac(x) -> Fraction:
    return Fraction(float(x))  # exact: every finite float is a dyadic rational


def channel_vector(values: np.ndarray, node, n_chan: int, source: str, model=None) -> list[Fraction]:
    """A constant that varies at most along the last (channel) axis, as one Fraction per channel."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 1:
        return [frac(v.ravel()[0])] * n_chan
    flat = v.reshape(-1, v.shape[-1]) if v.ndim > 1 else v.reshape(1, -1)
    if flat.shape[-1] != n_chan or np.any(flat != flat[0]):
        raise JpqError(f"{source}: {node_label(node, model)}: constant of shape {list(v.shape)} is not per-channel")
    return [frac(x) for x in flat[0]]
