"""The verdict can say no, on every verification path: each build is made once (module fixtures), then its
verdict is rerun with one value of the hardware's outputs, or of the reference, moved by one quantizer step.
Each must give NOT bit-exact (exit 1), count exactly that one vector and, for the hardware, name where."""

import shutil
from unittest import mock

import numpy as np
import pytest

from build import models
from build.test_host_split import head_core_tail_model
from jpq2hw.errors import EXIT_NOT_EXACT, EXIT_OK
from stereo.test_stereo_build import tiny_model  # noqa: F401  (a fixture)
from testkit import verdict

pytestmark = pytest.mark.slow

PATHS = {  # name -> (model maker, build options); "stereo" takes the tiny stereo net of tests/stereo
    "io_parallel": (models.sparse_mlp, {"io": "parallel", "vectors": 12}),
    "io_stream_float_scales": (models.brevitas_float_conv, {"io": "stream", "vectors": 12}),
    "host_head_tail": (head_core_tail_model, {"vectors": 12}),
    "stereo": (None, {"io": "parallel", "vectors": 8}),
}


@pytest.fixture(scope="module")
def build_of(request, tmp_path_factory):
    """build_of(name) -> that path's Prepared build, made once per module."""
    made = {}

    def get(name: str) -> verdict.Prepared:
        if name not in made:
            make, options = PATHS[name]
            folder = tmp_path_factory.mktemp(name)
            if make is None:  # the stereo net and its real pairs (cost volume and argmax custom layers)
                model = request.getfixturevalue("tiny_model")
                options = {**options, "input_data": model.parent / "pairs.npy"}
            else:
                model = make(folder / "m.onnx")
            made[name] = verdict.prepare(name, model, folder / "out", **options)
            assert made[name].state.result.bit_exact, f"{name}: the clean build is not exact"
        return made[name]

    return get


@pytest.fixture(scope="module", params=sorted(PATHS))
def built(request, build_of):
    return build_of(request.param)


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


@pytest.mark.parametrize("name", ["io_parallel"])  # the word conversion is one function for both io types
def test_a_wrong_word_in_the_wrapper_is_caught(build_of, name, tmp_path):
    """The AXI-Stream wrapper's C++ changed (the last output word's low bit flipped): the testbench's own check
    of wrapper against hls4ml's top fails, every vector differs from the reference, and the trace does not blame
    a layer of the network."""
    from jpq2hw.pipeline.steps import DIRECT_VECTORS
    from jpq2hw.writer.axis_check import build_testbench, run_testbench

    built = build_of(name)
    s0, out = built.state, tmp_path / "copy"
    shutil.copytree(s0.out, out)
    wrapper = out / "board" / f"{s0.project_info.wrapper_name}.cpp"
    text = wrapper.read_text()
    assert text.count("word.data = extended;") == 1
    wrapper.write_text(text.replace("word.data = extended;", "if (last) extended ^= 1;\n    word.data = extended;"))
    assert build_testbench(out, s0.project_info).ok
    run = run_testbench(out, s0.project_info, s0.hw_in.reshape(len(s0.hw_in), -1), direct_vectors=DIRECT_VECTORS)
    assert run.passed is False and run.outputs is not None
    s = verdict.judge(built, hw=run.outputs, axis_passed=run.passed, with_trace=name == "io_parallel")
    assert s.exit_code == EXIT_NOT_EXACT and s.report["bit_exact"] is False
    assert s.report["axis_wrapper"] == "FAILED at run"
    assert s.report["mismatched_vectors"] == len(s0.hw_in)
    assert s.report["first_divergent_layer"] is None


def test_no_mutation_of_the_verification_code_survives(build_of):
    """scripts/mutate_verdict.py's mutations (benchmarks/verdict_mutations.md), on this module's builds: the
    real code passes every check and each mutation fails at least one."""
    from testkit import verdict_mutations

    killed = verdict_mutations.survivors([build_of(name) for name in sorted(PATHS)])
    assert [name for name, by in killed.items() if not by] == []


def test_a_wrong_rtl_output_makes_the_build_not_exact(build_of):
    """The RTL check (`--rtl`): its expected outputs one step off on the last vector: the iverilog comparison
    says NOT bit-exact on that vector, and the build's verdict follows it."""
    from jpq2hw import rtl as rtl_package
    from jpq2hw.pipeline import steps

    if not all(shutil.which(t) for t in ("iverilog", "vvp", "yosys")):
        pytest.skip("needs yosys and iverilog (apt-get install -y yosys iverilog; scripts/test.sh installs them)")
    built = build_of("io_parallel")
    s = verdict.judge(built)
    assert s.report["bit_exact"] is True
    real, sections = rtl_package.rtl_for_build, []

    def wrong_expected(out, model, xs, expected, board, progress=None, **kwargs):
        wrong = verdict.corrupt_one(expected, len(xs) - 1, 0, verdict.output_step(built))
        sections.append(real(out, model, xs, wrong, board, progress, **{**kwargs, "synth": "none"}))
        return sections[-1]

    with mock.patch.object(rtl_package, "rtl_for_build", wrong_expected):
        steps.rtl(s)
    (section,) = sections
    assert section["bit_exact"] is False and section["mismatched_vectors"] == 1
    assert section["first_mismatch"] == len(s.hw_in) - 1
    assert s.report["bit_exact"] is False and "failed_steps" not in s.report
