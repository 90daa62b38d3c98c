"""verify/vectors: random vectors lie on the input quantizer's grid, so the Quant node leaves them unchanged."""

import numpy as np
import pytest
from qonnx.custom_op.general.intquant import int_quant

from jpq2hw.annotate.quant_types import QuantSpec
from jpq2hw.verify.vectors import random_vectors


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("narrow", [True, False])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_random_vectors_are_fixed_points_of_the_input_quant(signed, narrow, bits):
    q = QuantSpec(node="q", bits=bits, signed=signed, narrow=narrow, rounding="ROUND", scale=0.25)
    xs = random_vectors(q, [64], 50, seed=1)
    again = int_quant(xs, np.float64(0.25), np.float64(0), np.float64(bits), int(signed), int(narrow), "ROUND")
    assert np.array_equal(again, xs)
    assert xs.min() < 0 if signed else xs.min() == 0  # the all-minimum corner is there
