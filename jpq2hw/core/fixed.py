"""Exact fixed-point types and value ranges.

A FixedType is an ap_fixed / ap_ufixed: `width` bits of which `integer` are left of the binary point
(the sign included). A Range is the exact set of values a tensor can take, as integers lo..hi in units
of 2**-frac. All arithmetic is on Python ints, so nothing here ever rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class FixedType:
    signed: bool
    width: int
    integer: int
    rounding: str = "TRN"  # TRN | RND_CONV (round half to even, = QONNX ROUND)
    saturation: str = "WRAP"  # WRAP | SAT | SAT_SYM

    @property
    def frac(self) -> int:
        return self.width - self.integer

    def hls(self) -> str:
        """The hls4ml precision string, e.g. fixed<8,3,RND_CONV,SAT>."""
        base = "fixed" if self.signed else "ufixed"
        if self.rounding == "TRN" and self.saturation == "WRAP":
            return f"{base}<{self.width},{self.integer}>"
        return f"{base}<{self.width},{self.integer},{self.rounding},{self.saturation}>"

    def cpp(self) -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        mode = "" if (self.rounding, self.saturation) == ("TRN", "WRAP") else f",AP_{self.rounding},AP_{self.saturation}"
        return f"{base}<{self.width},{self.integer}{mode}>"

    def range(self) -> "Range":
        if self.signed:
            lo, hi = -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
            if self.saturation == "SAT_SYM":
                lo += 1
        else:
            lo, hi = 0, (1 << self.width) - 1
        return Range(lo, hi, self.frac)


@dataclass(frozen=True)
class Range:
    """All values in [lo, hi] * 2**-frac on the grid 2**-frac."""

    lo: int
    hi: int
    frac: int

    def aligned(self, frac: int) -> "Range":
        assert frac >= self.frac
        s = 1 << (frac - self.frac)
        return Range(self.lo * s, self.hi * s, frac)

    def __add__(self, other: "Range") -> "Range":
        f = max(self.frac, other.frac)
        a, b = self.aligned(f), other.aligned(f)
        return Range(a.lo + b.lo, a.hi + b.hi, f)

    def union(self, other: "Range") -> "Range":
        f = max(self.frac, other.frac)
        a, b = self.aligned(f), other.aligned(f)
        return Range(min(a.lo, b.lo), max(a.hi, b.hi), f)

    def relu(self) -> "Range":
        return Range(max(self.lo, 0), max(self.hi, 0), self.frac)

    @property
    def min(self) -> Fraction:
        return Fraction(self.lo, 1 << self.frac) if self.frac >= 0 else Fraction(self.lo * (1 << -self.frac))

    @property
    def max(self) -> Fraction:
        return Fraction(self.hi, 1 << self.frac) if self.frac >= 0 else Fraction(self.hi * (1 << -self.frac))

    def to_type(self, rounded_from: bool = True) -> FixedType:
        """The narrowest fixed type holding every value of the range exactly (TRN/WRAP: nothing rounds).
        `rounded_from=False` for a constant that is only multiplied or added exactly (weights, biases): its
        integer bits may be 0, so a 4-bit weight of scale 2^-4 stays fixed<4,0> (not fixed<5,1>)."""
        signed = self.lo < 0
        mag = max(self.hi, -self.lo - 1 if signed else 0, 0)
        bits = mag.bit_length() + (1 if signed else 0)
        # Keep the MSB at or above the binary point: ap_fixed's rounding reads the bit just below the
        # target's LSB, and asserts ("read bit beyond MSB") if the source type is narrower than that.
        bits = max(bits, 1, self.frac + (1 if signed and rounded_from else 0))
        return FixedType(signed, bits, bits - self.frac)


def dyadic_frac(values: np.ndarray) -> int:
    """Smallest f with every value an integer multiple of 2**-f. Raises ValueError if a value is not a
    finite dyadic number (every finite float is dyadic, so this only fails on inf/nan)."""
    values = np.ascontiguousarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError("non-finite constant")
    bits = values.view(np.int64)
    exponent = (bits >> 52) & 0x7FF  # biased; 0: zero or subnormal
    if np.any((exponent == 0) & (values != 0)):  # subnormals: the slow, general way
        nz = values[values != 0]
        mant, exp = np.frexp(nz)  # nz = mant * 2**exp, 0.5 <= |mant| < 1 with 53-bit mantissa
        m = (np.abs(mant) * (1 << 53)).astype(np.int64)
        tz = np.log2((m & -m).astype(np.float64)).astype(np.int64)  # the lowest set bit: a power of two, exact
        return int(np.max(53 - exp - tz))
    if not np.any(values):
        return 0
    # a normal float is M * 2**(E - 1075) with the 53-bit integer M = mantissa | 1 << 52; its grid is the lowest
    # set bit of M (a power of two, whose own exponent field says which)
    mantissa = (bits & ((1 << 52) - 1)) | (1 << 52)
    lowest = ((mantissa & -mantissa).astype(np.float64).view(np.int64) >> 52) - 1023
    frac = 1075 - exponent - lowest
    return int(np.max(np.where(values != 0, frac, np.iinfo(np.int64).min)))


def to_ints(values: np.ndarray, frac: int) -> np.ndarray:
    """values * 2**frac as exact integers: int64 where they fit, else Python ints (an object array); the caller
    guarantees they are integers."""
    scaled = np.ldexp(np.asarray(values, dtype=np.float64), frac)
    assert np.all(scaled == np.round(scaled)), "value not on the 2**-frac grid"
    if scaled.size and np.max(np.abs(scaled)) < 2.0**62:  # int64 holds them exactly (and numpy is fast)
        return scaled.astype(np.int64)
    return np.array([int(v) for v in scaled.ravel()], dtype=object).reshape(scaled.shape)


def constant_range(values: np.ndarray) -> Range:
    f = dyadic_frac(values)
    ints = to_ints(values, f)
    return Range(int(ints.min()) if ints.size else 0, int(ints.max()) if ints.size else 0, f)


def dot_range(x: Range, weights: np.ndarray, bias: np.ndarray | None = None) -> Range:
    """Exact range of y[o] = sum_i w[i, o] * x_i + b[o] over all x_i in x, for every o; the union over o.
    weights: (fan_in, n_out). Zero weights contribute nothing, which is what makes sparse layers narrow."""
    fw = dyadic_frac(weights)
    w = to_ints(weights, fw).reshape(weights.shape[0], -1)
    if w.dtype != object and w.size and float(np.abs(w).max()) * w.shape[0] >= 2.0**62:
        w = w.astype(object)  # column sums that int64 cannot hold: Python ints (exact, slower)
    pos = np.where(w > 0, w, 0).sum(axis=0)  # per output: the sum of its positive and of its negative weights
    neg = np.where(w < 0, w, 0).sum(axis=0)
    x_mag = max(abs(x.lo), abs(x.hi))
    if w.dtype != object and (x_mag >= 2**61 or float(np.max(pos - neg, initial=0)) * x_mag >= 2.0**61):
        pos, neg = pos.astype(object), neg.astype(object)  # products int64 cannot hold
    hi = pos * x.hi + neg * x.lo
    lo = pos * x.lo + neg * x.hi
    f = x.frac + fw
    out = Range(int(min(lo)), int(max(hi)), f)
    if bias is not None and np.any(bias != 0):
        fb = dyadic_frac(bias)
        b = to_ints(bias, fb).ravel()
        f2 = max(f, fb)
        sw, sb = 1 << (f2 - f), 1 << (f2 - fb)
        his = [int(h) * sw + int(bb) * sb for h, bb in zip(np.broadcast_to(hi, b.shape), b)]
        los = [int(l) * sw + int(bb) * sb for l, bb in zip(np.broadcast_to(lo, b.shape), b)]
        out = Range(min(los), max(his), f2)
    return out
