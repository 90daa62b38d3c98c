"""A layer whose io_parallel C-simulation would not fit in the system's stack is refused before g++ runs, in one
line naming the layer, its size and the limit; the testbench itself gets the largest stack allowed."""

import resource

import pytest

from jpq2hw.build import BuildOptions, run_build
from jpq2hw.errors import JpqError
from jpq2hw.verify import gxx, stack
from jpq2hw.writer import axis_check


def test_too_large_for_the_stack_is_refused_before_compiling(model_file, tmp_path, monkeypatch):
    monkeypatch.setattr(stack, "stack_limit", lambda: 8 << 20)  # a system whose hard limit is the usual 8 MiB

    def no_compile(*args, **kwargs):
        raise AssertionError("g++ ran")

    monkeypatch.setattr(gxx, "build_program", no_compile)
    out = tmp_path / "out"
    with pytest.raises(JpqError) as err:
        run_build(BuildOptions(model=model_file("sparse_mlp"), out=out, quiet=True, vectors=5))
    msg = str(err.value)
    assert "\n" not in msg and "MatMul_0" in msg and "16 x 32 products" in msg and "8 MiB" in msg
    assert "--reuse-factor" in msg and not out.exists()


def test_largest_layer_is_measured(model_file, tmp_path):
    from jpq2hw.convert.hls4ml_convert import ConvertOptions, convert
    from jpq2hw.pipeline import analyze_file

    state = analyze_file(model_file("sparse_mlp"))
    hls_model = convert(state.model, state.analysis, tmp_path / "hls", ConvertOptions())
    name, need, what = stack.largest_local_arrays(hls_model)
    assert "MatMul_0" in name and what == "16 x 32 products" and need == 16 * 32 * 4


def test_testbench_gets_the_hard_stack_limit(monkeypatch):
    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (8 << 20, 64 << 20))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append((which, limits)))
    axis_check._large_stack()
    assert calls == [(resource.RLIMIT_STACK, (64 << 20, 64 << 20))]
