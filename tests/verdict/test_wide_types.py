"""A type wider than float64's 53-bit mantissa is refused: the reference (float64 at best) and the testbench's
double I/O would round such values alike, so a wrong hardware sum could pass as bit-exact."""

import numpy as np
from onnx import numpy_helper

from build.test_bad_input import assert_refused
from testkit.qonnx_builder import QonnxBuilder

FAN_IN = 512


def wide_accumulator_model(path):
    """24-bit integer inputs times 24-bit weights over 512 inputs: an exact accumulator of about 56 bits."""
    b = QonnxBuilder([1, FAN_IN], in_bits=24, in_signed=True, in_scale_exp=0, seed=7)
    x = b.dense(b.x, 2, wbits=24, w_scale_exp=0)
    b.save(b.quant(x, 8, True, 40), path)
    return path, b


def test_a_wide_accumulator_that_float64_would_round_is_refused(tmp_path, capsys):
    path, b = wide_accumulator_model(tmp_path / "wide.onnx")
    w = next(numpy_helper.to_array(i) for i in b.inits if numpy_helper.to_array(i).shape == (FAN_IN, 2))
    x = np.where(w[:, 0] < 0, -1, 1) * ((1 << 23) - 1)  # an input on the grid that sums column 0's |w|
    exact = [sum(int(a) * int(c) for a, c in zip(x, w[:, j])) for j in range(2)]
    in_float64 = np.dot(x.astype(np.float64), w.astype(np.float64))
    # the premise: this accumulator needs more than 53 bits, and float64 gets that vector wrong
    assert max(abs(e) for e in exact).bit_length() > 53
    assert any(int(f) != e for f, e in zip(in_float64, exact))
    err = assert_refused(tmp_path, capsys, path, "MatMul", "bits, more than the 53 a float64 holds exactly")
    assert "cannot make the hardware exact" in err
