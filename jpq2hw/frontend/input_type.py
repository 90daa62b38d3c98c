"""`--input-type`: the grid a model with an unquantized float input takes in hardware.

QKeras conversions (and some Brevitas exports) leave the graph input as plain float: nothing in the file says
which fixed-point values the first layer receives. The option declares it; normalization then puts a Quant node
with exactly that grid on the input of the working copy, so the reference quantizes every vector onto the grid
first and the build is provably exact for inputs on it (the same model, evaluated on grid points).

Accepted spellings:
  fixed<W,I>, ufixed<W,I>   ap_fixed / ap_ufixed: W bits, I of them left of the binary point (sign included)
  intN, uintN               integers (scale 1)
  intN*S, uintN*S           integer codes times the scale S (a number such as 0.0078125 or a fraction 1/255;
                            stored as float32, as a QONNX Quant node stores its scale)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from jpq2hw.errors import JpqError

_FIXED = re.compile(r"(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*>")
_INT = re.compile(r"(u?)int(\d+)(?:\s*\*\s*(.+))?")
MAX_BITS = 32  # what a QONNX Quant node (and the reference's exact paths) can take


@dataclass(frozen=True)
class InputType:
    text: str  # as the user wrote it
    signed: bool
    bits: int
    scale: float  # a float32 value

    def describe(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return f"{self.bits}-bit {kind} codes times {self.scale:g}"


def parse_input_type(text: str) -> InputType:
    spec = text.strip().lower().replace(" ", "")
    m = _FIXED.fullmatch(spec)
    if m:
        signed, width, integer = m.group(1) == "", int(m.group(2)), int(m.group(3))
        _check_bits(text, width, signed)
        return InputType(text, signed, width, float(np.float32(2.0 ** (integer - width))))
    m = _INT.fullmatch(spec)
    if m:
        signed, bits = m.group(1) == "", int(m.group(2))
        _check_bits(text, bits, signed)
        scale = 1.0
        if m.group(3) is not None:
            try:
                value = Fraction(m.group(3))
            except (ValueError, ZeroDivisionError):
                raise JpqError(f"--input-type {text}: scale '{m.group(3)}' is not a number") from None
            scale = float(np.float32(value))
            if not (value > 0 and np.isfinite(scale) and 2.0**-60 <= scale <= 2.0**60):
                raise JpqError(f"--input-type {text}: the scale must be positive, between 2^-60 and 2^60")
        return InputType(text, signed, bits, scale)
    raise JpqError(f"--input-type {text}: not a type; write e.g. fixed<16,6>, ufixed<8,0>, int8, or uint8*0.00390625")


def _check_bits(text: str, bits: int, signed: bool) -> None:
    if not (2 if signed else 1) <= bits <= MAX_BITS:
        raise JpqError(f"--input-type {text}: {bits} bits; need {2 if signed else 1} to {MAX_BITS}")


def suggestion(signed: bool, frac: int, integer: int) -> str:
    """A type with `frac` fractional and `integer` integer bits (sign included), as --input-type spells it."""
    width = max(frac + integer, 2 if signed else 1)
    return f"{'' if signed else 'u'}fixed<{width},{width - frac}>"
