"""The vectors a build is checked on: never constant alone, natural frames for image inputs, and the kinds counted."""

import numpy as np
import pytest
from qonnx.custom_op.general.intquant import int_quant

from jpq2hw.annotate.quant_types import QuantSpec
from jpq2hw.verify.vectors import build_vectors, describe_kinds, image_layout, natural_frames

U8 = QuantSpec(node="q", bits=8, signed=False, narrow=False, rounding="ROUND", scale=1 / 256)
S4 = QuantSpec(node="q", bits=4, signed=True, narrow=True, rounding="ROUND", scale=0.25)
BIPOLAR = QuantSpec(node="q", bits=1, signed=True, narrow=False, rounding="ROUND", scale=1.0)


def constant(x):
    return bool(np.all(x == x.ravel()[0]))


@pytest.mark.parametrize("q", [U8, S4, BIPOLAR], ids=["u8", "s4", "bipolar"])
@pytest.mark.parametrize("shape", [[16], [3, 32, 32], [24, 24, 1], [2, 2]])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 8])
def test_never_constant_vectors_alone_and_all_on_the_grid(q, shape, n):
    xs, kinds = build_vectors(q, shape, n, seed=1)
    assert xs.shape == (n, *shape) and len(kinds) == n
    assert not all(constant(x) for x in xs)
    again = int_quant(xs, np.float64(q.scale), np.float64(0), np.float64(q.bits), int(q.signed), int(q.narrow), "ROUND")
    assert np.array_equal(again, xs)
    assert ("natural" in kinds) == (image_layout(shape) is not None)


def test_an_image_model_gets_corners_then_natural_frames_then_random():
    xs, kinds = build_vectors(U8, [3, 40, 40], 100, seed=0)
    assert kinds[:6] == ["corner"] * 3 + ["natural"] * 3 and kinds[6:] == ["random"] * 94
    assert describe_kinds(kinds + ["user"]) == "3 corners, 3 natural frames, 94 random, 1 user"
    # a natural frame has spatial structure: neighbouring pixels agree far more than in random noise
    frame, noise = xs[3], xs[6]
    assert np.mean(np.abs(np.diff(frame, axis=2))) < 0.3 * np.mean(np.abs(np.diff(noise, axis=2)))
    # one vector of a single-vector build is a natural frame, not the black corner
    one, kinds1 = build_vectors(U8, [3, 40, 40], 1)
    assert kinds1 == ["natural"] and np.array_equal(one[0], xs[3])


def test_natural_frames_in_channels_last_and_gray():
    hwc = natural_frames(S4, [20, 30, 3], 2)
    chw = natural_frames(S4, [3, 20, 30], 2)
    assert np.array_equal(hwc, chw.transpose(0, 2, 3, 1))
    gray = natural_frames(S4, [1, 20, 30], 1)
    assert gray.min() >= -1.75 and gray.max() <= 1.75 and len(np.unique(gray)) > 5
