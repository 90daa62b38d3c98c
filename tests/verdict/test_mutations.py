"""The verdict can say no, on every verification path: each build is made once (module fixtures), then its
verdict is rerun with one value of the hardware's outputs, or of the reference, moved by one quantizer step.
Each must give NOT bit-exact (exit 1), count exactly that one vector and, for the hardware, name where."""

import numpy as np
import pytest

from build import models
from build.test_host_split import head_core_tail_model
from jpq2hw.errors import EXIT_NOT_EXACT, EXIT_OK
from testkit import verdict

pytestmark = pytest.mark.slow

PATHS = {  # name -> (model maker, build options)
    "io_parallel": (models.sparse_mlp, {"io": "parallel", "vectors": 12}),
    "io_stream_float_scales": (models.brevitas_float_conv, {"io": "stream", "vectors": 12}),
    "host_head_tail": (head_core_tail_model, {"vectors": 12}),
}


@pytest.fixture(scope="module", params=sorted(PATHS))
def built(request, tmp_path_factory):
    make, options = PATHS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    prepared = verdict.prepare(request.param, make(folder / "m.onnx"), folder / "out", **options)
    assert prepared.state.result.bit_exact, f"{request.param}: the clean build is not exact"
    return prepared


def test_clean_build_is_exact_when_judged_again(built):
    s = verdict.judge(built)
    assert s.exit_code == EXIT_OK and s.report["bit_exact"] is True and s.report["mismatched_vectors"] == 0


@pytest.mark.parametrize("where", ["first", "last"])
def test_one_hardware_value_off_by_one_step_is_not_exact(built, where):
    n = len(built.hw)
    vector = 0 if where == "first" else n - 1
    index = built.hw[vector].size - 1 if where == "first" else 0
    hw = verdict.corrupt_one(built.hw, vector, index, verdict.output_step(built))
    s = verdict.judge(built, hw=hw)
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False
    assert s.report["mismatched_vectors"] == 1 and s.result.first_mismatch == vector
    assert s.report["max_abs_error"] > 0


def test_one_reference_value_moved_is_not_exact(built):
    """The reference side: one expected value moved by one step of the model's output (in the model's units)."""
    s0 = built.state
    expected = built.expected.copy()
    flat = expected.reshape(len(expected), -1)
    step = (np.abs(s0.boundary.io.output_alpha).max() if s0.boundary.integer_core
            else 2.0 ** -s0.project_info.output.fractional)
    flat[len(flat) // 2, 0] += step
    s = verdict.judge(built, expected=expected)
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False
    assert s.report["mismatched_vectors"] == 1 and s.result.first_mismatch == len(flat) // 2


def test_a_failed_wrapper_check_is_not_exact(built):
    s = verdict.judge(built, axis_passed=False)
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False
    assert s.report["axis_wrapper"].startswith("FAILED")


@pytest.mark.parametrize("name", ["io_stream_float_scales", "host_head_tail"])  # io_parallel: test_build_exact.py
def test_a_wrong_weight_in_the_cpp_is_caught_and_located(name, tmp_path):
    """The C++ itself wrong: one weight negated after conversion. NOT bit-exact, and the trace names that layer."""
    make, options = PATHS[name]
    s, layer = verdict.build_with_flipped_weight(make(tmp_path / "m.onnx"), tmp_path / "out", **options)
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False
    assert s.report["mismatched_vectors"] > 0
    assert s.report["first_divergent_layer"] == layer
