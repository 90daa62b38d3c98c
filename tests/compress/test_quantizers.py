"""The torch quantizer must equal QONNX's own Quant implementation, value for value."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from qonnx.custom_op.general.quant import quant as qonnx_quant

from jpq2hw.compress.quantizers import bias_scale, fake_quantize, int_range, pow2_scale_for_max, quantize

COMBOS = [(b, s, n) for b in range(2, 9) for s in (True, False) for n in (True, False)]


@pytest.mark.parametrize("bits,signed,narrow", COMBOS)
def test_matches_qonnx_on_ties_and_saturation(bits, signed, narrow):
    scale = 2.0**-3
    lo, hi = int_range(bits, signed, narrow)
    # every half-integer tie in and beyond the range, plus far-out values
    ints = np.arange(lo - 3, hi + 4, 0.5)
    x = np.concatenate([ints, [-1e6, 1e6, 0.25, -0.25, 0.75]]).astype(np.float32) * scale
    expected = qonnx_quant(x, np.float32(scale), np.float32(0), np.float32(bits), signed, narrow, "ROUND")
    got = quantize(torch.from_numpy(x), scale, bits, signed, narrow).numpy()
    assert np.array_equal(got, expected.astype(np.float32))
    assert got.max() == hi * scale and got.min() == lo * scale


def test_round_half_to_even():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5])
    assert quantize(x, 1.0, 8, True, False).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, -2.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-100, 100, width=32), min_size=1, max_size=20), st.integers(-8, 4),
       st.sampled_from(COMBOS))
def test_random_values_match_qonnx(values, exp, combo):
    bits, signed, narrow = combo
    x = np.array(values, dtype=np.float32)
    scale = np.float32(2.0**exp)
    expected = qonnx_quant(x, scale, np.float32(0), np.float32(bits), signed, narrow, "ROUND")
    assert np.array_equal(quantize(torch.from_numpy(x), float(scale), bits, signed, narrow).numpy(),
                          expected.astype(np.float32))


def test_fake_quantize_values_and_straight_through_gradient():
    x = torch.tensor([0.3, -0.7, 5.0, -5.0], requires_grad=True)
    y = fake_quantize(x, 0.25, 4, True, True)  # range [-7, 7] * 0.25 = [-1.75, 1.75]
    assert torch.equal(y.detach(), quantize(x.detach(), 0.25, 4, True, True))
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]  # STE inside the range, zero when saturated


def test_power_of_two_scales():
    assert pow2_scale_for_max(1.0, 8, False, False) == 2.0**-7  # 255 * 2^-7 >= 1
    assert pow2_scale_for_max(0.9, 4, True, True) == 2.0**-2     # 7 * 2^-3 = 0.875 would saturate 0.9
    acc = 2.0**-10
    assert bias_scale(torch.tensor([0.01]), acc, 8) == acc          # fits at the accumulator scale
    big = bias_scale(torch.tensor([3.0]), acc, 8)
    assert big > acc and np.log2(big) == int(np.log2(big)) and 127 * big >= 3.0
