"""The numpy emulator (jpq2hw/emulate): ap_fixed assignment modes, a small program's arithmetic, its saved form,
and the check against the C-simulation failing and naming the layer when the two differ. The agreement with
real C-simulations is asserted on the shipped builds (tests/build/test_example.py, tests/stereo)."""

from __future__ import annotations

import numpy as np
import pytest

from jpq2hw.emulate.fixed import Fix, cast, from_float
from jpq2hw.emulate.program import Op, Program
from jpq2hw.emulate.run import run
from jpq2hw.verify.emulator_check import compare_with_csim

HALVES = np.array([-2.5, -1.5, -0.75, -0.5, 0.5, 0.75, 1.5, 2.5])
# ap_fixed rounding of these values to integers, per quantization mode (the Xilinx ap_fixed documentation)
ROUNDED = {
    "TRN": [-3, -2, -1, -1, 0, 0, 1, 2],
    "TRN_ZERO": [-2, -1, 0, 0, 0, 0, 1, 2],
    "RND": [-2, -1, -1, 0, 1, 1, 2, 3],
    "RND_ZERO": [-2, -1, -1, 0, 0, 1, 1, 2],
    "RND_INF": [-3, -2, -1, -1, 1, 1, 2, 3],
    "RND_MIN_INF": [-3, -2, -1, -1, 0, 1, 1, 2],
    "RND_CONV": [-2, -2, -1, 0, 0, 1, 2, 2],
}


@pytest.mark.parametrize("mode", sorted(ROUNDED))
def test_rounding_modes(mode):
    fix = Fix(8, 0, True, mode, "SAT")
    assert from_float(HALVES, fix).tolist() == ROUNDED[mode]
    codes = (HALVES * 4).astype(np.int64)  # the same values as codes with 2 fractional bits
    assert cast(codes, 2, fix).tolist() == ROUNDED[mode]


def test_overflow_modes():
    codes = np.array([-200, -128, -127, 127, 128, 300])
    assert cast(codes, 0, Fix(8, 0, True, "TRN", "SAT")).tolist() == [-128, -128, -127, 127, 127, 127]
    assert cast(codes, 0, Fix(8, 0, True, "TRN", "SAT_SYM")).tolist() == [-127, -127, -127, 127, 127, 127]
    assert cast(codes, 0, Fix(8, 0, True, "TRN", "SAT_ZERO")).tolist() == [0, -128, -127, 127, 0, 0]
    assert cast(codes, 0, Fix(8, 0, True, "TRN", "WRAP")).tolist() == [56, -128, -127, 127, -128, 44]
    assert cast(codes, 0, Fix(8, 0, False, "TRN", "SAT")).tolist() == [0, 0, 0, 127, 128, 255]


def _program():
    """Input ufixed<4,0> (4 fractional bits) -> Dense 3->2 (weights fixed<4,1>, bias) -> ReLU into ufixed<6,3>."""
    u4 = Fix(4, 4, False, "RND_CONV", "SAT")
    w_t, b_t, acc_t = Fix(4, 3, True), Fix(6, 4, True), Fix(16, 7, True)
    w = np.array([[3, -4], [-8, 7], [1, 0]])  # codes: value = code / 8
    b = np.array([5, -20])  # value = code / 16
    return Program([
        Op("Input", "in", [], "x", [3], {"result_t": u4}),
        Op("Dense", "dense", ["x"], "d", [2], {"accum_t": acc_t, "result_t": acc_t, "weight_t": w_t, "bias_t": b_t},
           arrays={"weight": w, "bias": b}),
        Op("Activation", "relu", ["d"], "r", [2], {"result_t": Fix(6, 3, False, "RND_CONV", "SAT")},
           params={"activation": "relu"}),
    ], ["r"])


def _by_hand(x):
    """The same in exact rationals: round((x @ w + b) * 8) half to even, clipped to [0, 63], over 8."""
    from fractions import Fraction as F

    w = [[F(3, 8), F(-4, 8)], [F(-8, 8), F(7, 8)], [F(1, 8), F(0)]]
    b = [F(5, 16), F(-20, 16)]
    out = []
    for row in x:
        q = [F(int(round(v * 16)), 16) for v in row]
        y = [max(F(0), sum(q[i] * w[i][j] for i in range(3)) + b[j]) for j in range(2)]
        out.append([min(63, round(v * 8)) / 8 for v in y])  # round(): half to even
    return np.array(out, dtype=np.float64)


def test_small_program_matches_exact_arithmetic():
    x = np.random.default_rng(0).integers(0, 16, size=(200, 3)) / 16
    assert np.array_equal(run(_program(), x), _by_hand(x))


def test_saved_program_runs_the_same(tmp_path):
    x = np.random.default_rng(1).integers(0, 16, size=(20, 3)) / 16
    _program().save(tmp_path / "emulator")
    assert np.array_equal(run(Program.load(tmp_path / "emulator"), x), run(_program(), x))


def test_disagreement_fails_and_names_the_layer():
    program = _program()
    x = np.random.default_rng(2).integers(0, 16, size=(10, 3)) / 16
    csim = run(program, x)

    def trace(v):  # stands in for hls4ml's trace of a C++ whose Dense layer is off by one step
        _, t = run(program, v, trace=True)
        t = dict(t)
        t["dense"] = t["dense"] + 2.0 ** -7
        return None, t

    assert compare_with_csim(program, x, csim, trace).status == "agrees"
    wrong = csim.copy()
    wrong[4, 1] += 0.125
    result = compare_with_csim(program, x, wrong, trace)
    assert result.status == "disagrees" and result.fails
    assert (result.mismatched_vectors, result.first_mismatch, result.first_divergent_layer) == (1, 4, "dense")
