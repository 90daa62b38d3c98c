"""The build's step runner, without hls4ml or g++ (seconds): a prefix of the steps, the output folder's
lifetime, and the host boundary of an integer model."""

import numpy as np
import pytest

from jpq2hw.errors import JpqError
from jpq2hw.normalize.host_boundary import HostBoundary
from jpq2hw.output_folder import BUILD_MARKER, mark_build_folder
from jpq2hw.pipeline import STEPS, BuildOptions, BuildState, Step, analyze_file, run_steps, step_names


def test_stop_after_annotate_writes_nothing(model_file, tmp_path):
    out = tmp_path / "out"
    state = run_steps(BuildState.start(BuildOptions(model=model_file("sparse_mlp"), out=out, quiet=True)),
                      stop_after="annotate")
    assert state.analysis is not None and state.analysis.layers
    assert state.io_type == "io_parallel" and state.hls_model is None and state.report == {}
    assert set(state.progress.timings) == {"load", "normalize", "annotate"}
    assert not out.exists()


def test_unknown_step_is_refused(model_file, tmp_path):
    state = BuildState.start(BuildOptions(model=model_file("sparse_mlp"), out=tmp_path / "o", quiet=True))
    with pytest.raises(ValueError, match="no such step"):
        run_steps(state, stop_after="anotate")


def test_step_names_are_unique_and_front_half_first():
    names = step_names()
    assert len(names) == len(set(names)) == len(STEPS)
    assert names[:6] == ["load", "normalize", "validate", "exact_types", "annotate", "limits"]
    assert not any(s.in_output_folder for s in STEPS[:6]) and STEPS[6].in_output_folder


def test_a_failing_step_restores_the_old_output(model_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old build")
    mark_build_folder(out)  # --force replaces only a folder jpq2hw built

    def writes_then_fails(state):
        (state.out / "half.txt").write_text("half written")
        raise JpqError("stop")

    steps = STEPS[:4] + [Step("half", writes_then_fails, in_output_folder=True)]
    state = BuildState.start(BuildOptions(model=model_file("sparse_mlp"), out=out, quiet=True, force=True))
    with pytest.raises(JpqError, match="stop"):
        run_steps(state, steps=steps)
    assert sorted(p.name for p in out.iterdir()) == [BUILD_MARKER, "keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name != "out"]  # no backup left beside it


def test_integer_model_has_the_identity_boundary(model_file):
    state = analyze_file(model_file("sparse_mlp"))
    b = state.boundary
    assert not b.integer_core and b.ops == []
    x = np.arange(6.0).reshape(2, 3)
    assert b.to_hardware(x) is x and b.to_real(x) is x and b.expected_codes(x, x + 1) is x
    assert b.proven_outputs(x, x + 1) is x and b.float_error(x + 1, x) is None


def test_float_scale_model_boundary_maps_codes_both_ways(model_file):
    state = analyze_file(model_file("brevitas_float_mlp"))
    b = state.boundary
    assert b.integer_core and any(op["op"] == "Quant" for op in b.ops)
    codes = np.array([[3.0, -2.0]])
    assert np.array_equal(b.to_hardware(codes * b.io.input_scale), codes)
    hw = np.arange(float(np.size(b.io.output_alpha)))[None]
    real = b.to_real(hw)
    assert np.array_equal(b.expected_codes(real, hw), hw)  # the real outputs map back to the same codes
    assert b.float_error(hw, real) == 0.0
    assert b.proven_outputs(real, hw) is hw

