"""ap_fixed / ap_int arithmetic on integer codes, in numpy: a value is `code * 2**-frac`, codes are int64.

cast() is the C++ assignment to an ap_[u]fixed<W, I, Q, O> type: quantization mode Q on the dropped bits, then
overflow mode O on the result, exactly as the ap_types headers define them (AP_SAT* with saturation bits 0)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_BITS = 62  # codes and every sum stay exact in int64


class Unsupported(Exception):
    """A type or layer the emulator does not reproduce; the message names it."""


@dataclass(frozen=True)
class Fix:
    width: int
    frac: int  # bits right of the binary point (width - integer bits; may be negative or exceed width)
    signed: bool
    rounding: str = "TRN"
    saturation: str = "WRAP"

    @property
    def lo(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def to_json(self) -> dict:
        return dict(width=self.width, frac=self.frac, signed=self.signed, rounding=self.rounding,
                    saturation=self.saturation)


def fix_of(precision) -> Fix:
    """The Fix of an hls4ml precision type (FixedPrecisionType or IntegerPrecisionType)."""
    width = int(precision.width)
    integer = int(getattr(precision, "integer", width))
    sat_bits = getattr(precision, "saturation_bits", 0) or 0
    if sat_bits:
        raise Unsupported(f"saturation bits {sat_bits} in {precision}")
    rounding = getattr(precision, "rounding_mode", None)
    saturation = getattr(precision, "saturation_mode", None)
    fix = Fix(width, width - integer, bool(precision.signed), str(rounding) if rounding else "TRN",
              str(saturation) if saturation else "WRAP")
    if width > MAX_BITS:
        raise Unsupported(f"a {width}-bit type")
    return fix


def shift_round(code: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """code * 2**-shift rounded to an integer with an ap quantization mode (shift > 0 drops bits)."""
    if shift <= 0:
        return code << (-shift)
    floor = code >> shift
    rest = code - (floor << shift)  # 0 <= rest < 2**shift
    half = 1 << (shift - 1)
    neg = code < 0
    if rounding == "TRN":
        return floor
    if rounding == "TRN_ZERO":
        return floor + (neg & (rest != 0))
    above, tie = rest > half, rest == half
    if rounding == "RND":
        return floor + (above | tie)
    if rounding == "RND_MIN_INF":
        return floor + above
    if rounding == "RND_ZERO":
        return floor + (above | (tie & neg))
    if rounding == "RND_INF":
        return floor + (above | (tie & ~neg))
    if rounding == "RND_CONV":
        return floor + (above | (tie & ((floor & 1) == 1)))
    raise Unsupported(f"quantization mode AP_{rounding}")


def overflow(code: np.ndarray, fix: Fix) -> np.ndarray:
    lo, hi = fix.lo, fix.hi
    if fix.saturation == "WRAP":
        wrapped = (code - lo) & ((1 << fix.width) - 1)
        return wrapped + lo
    if fix.saturation == "SAT":
        return np.clip(code, lo, hi)
    if fix.saturation == "SAT_SYM":
        return np.clip(code, lo + 1 if fix.signed else lo, hi)
    if fix.saturation == "SAT_ZERO":
        return np.where((code < lo) | (code > hi), 0, code)
    raise Unsupported(f"overflow mode AP_{fix.saturation}")


def cast(code: np.ndarray, frac: int, fix: Fix) -> np.ndarray:
    """Codes at `frac` fractional bits assigned to `fix`: its codes."""
    return overflow(shift_round(np.asarray(code, dtype=np.int64), frac - fix.frac, fix.rounding), fix)


def from_float(x: np.ndarray, fix: Fix) -> np.ndarray:
    """A float64 array assigned to `fix` (the testbench's inputs). Exact: scaling by 2**frac is exact in
    float64, and the rounding is decided on the scaled value."""
    scaled = np.asarray(x, dtype=np.float64) * 2.0 ** fix.frac
    floor = np.floor(scaled)
    rest = scaled - floor
    neg = scaled < 0
    above, tie = rest > 0.5, rest == 0.5
    if fix.rounding == "TRN":
        q = floor
    elif fix.rounding == "TRN_ZERO":
        q = np.trunc(scaled)
    elif fix.rounding == "RND":
        q = floor + (above | tie)
    elif fix.rounding == "RND_MIN_INF":
        q = floor + above
    elif fix.rounding == "RND_ZERO":
        q = floor + (above | (tie & neg))
    elif fix.rounding == "RND_INF":
        q = floor + (above | (tie & ~neg))
    elif fix.rounding == "RND_CONV":
        q = floor + (above | (tie & (np.mod(floor, 2) == 1)))
    else:
        raise Unsupported(f"quantization mode AP_{fix.rounding}")
    if np.any(np.abs(q) > 2.0 ** MAX_BITS):  # far outside the type: saturation clips, wrapping is not emulated
        if fix.saturation == "WRAP":
            raise Unsupported(f"an input beyond 2**{MAX_BITS} steps of a wrapping type")
        q = np.clip(q, -(2.0 ** MAX_BITS), 2.0 ** MAX_BITS)
    return overflow(q.astype(np.int64), fix)


def to_float(code: np.ndarray, frac: int) -> np.ndarray:
    return np.asarray(code, dtype=np.float64) * 2.0 ** -frac
