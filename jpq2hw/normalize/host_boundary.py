"""Where the host ends and the hardware begins, as one object.

A model may have three host parts around its hardware: a float head before the input quantizer, float scales
streamlined away (the hardware then works on integer codes: input codes = x / input_scale, real output =
alpha * codes + beta), and a float tail after the core. For a plain fixed-point model all three are absent and
every method is the identity, so the build never branches on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jpq2hw.normalize.host_split import HostPart
from jpq2hw.normalize.streamline import HostIO


@dataclass
class HostBoundary:
    head: HostPart | None = None  # float ops before the input quantizer (run on the host)
    io: HostIO | None = None  # float scales around an integer core; None: the hardware's values are the model's
    tail: HostPart | None = None  # float ops after the core (run on the host)

    @property
    def integer_core(self) -> bool:
        """True when the hardware computes integer codes that stand for the model's float-scaled values."""
        return self.io is not None

    def to_hardware(self, xs: np.ndarray) -> np.ndarray:
        """The hardware's inputs for the reference's inputs (exact: the input Quant's integer codes)."""
        return xs if self.io is None else xs / self.io.input_scale

    def expected_codes(self, expected: np.ndarray, hw: np.ndarray) -> np.ndarray:
        """The reference's outputs in the hardware's units, to compare with `hw` exactly."""
        return expected if self.io is None else self.io.reference_codes(expected, hw)

    def to_real(self, hw: np.ndarray) -> np.ndarray:
        """The hardware's outputs as the model's values (the host's output affine)."""
        return hw if self.io is None else self.io.to_real(hw)

    def proven_outputs(self, expected: np.ndarray, hw: np.ndarray) -> np.ndarray:
        """What the hardware must return, in its own units, once the comparison has proven `hw` equal to the
        reference (the wrapper and RTL checks reproduce these)."""
        return expected if self.io is None else hw

    def float_error(self, hw: np.ndarray, expected: np.ndarray) -> float | None:
        """Largest |to_real(hw) - reference| of an integer core (its output affine runs in float); None otherwise."""
        return None if self.io is None else float(np.max(np.abs(self.to_real(hw) - expected)))

    @property
    def ops(self) -> list[dict]:
        """Every op that runs on the host, in order, for the report."""
        return ((self.head.ops if self.head else []) + (self.io.host_ops if self.io else [])
                + (self.tail.ops if self.tail else []))
