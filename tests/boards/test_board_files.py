"""Board files rendered for real hls4ml projects (io_parallel and io_stream): contents, tcl under tclsh with
stubbed HLS commands, and the AXI-Stream wrapper proven bit-exact against hls4ml's top with g++."""

import dataclasses
import re
import shutil
import subprocess

import jinja2
import numpy as np
import pytest
from board_test_models import grid_inputs

from jpq2hw.boards import load_board
from jpq2hw.writer.board_files import (
    check_axis_wrapper,
    project_info_from_hls_model,
    render_board_files,
    template_context,
)
from jpq2hw.templating import environment

CASES = [("mlp", "io_parallel"), ("conv", "io_stream"), ("conv", "io_parallel"), ("mlp", "io_stream")]
HLS_COMMANDS = ["open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock",
                "config_compile", "config_schedule", "csynth_design", "export_design"]


def rendered(hls_project, kind, io_type, board_name="pynq-z2", clock_mhz=None, backend=None):
    out_dir, hls_model = hls_project(kind, io_type)
    board = load_board(board_name)
    info = project_info_from_hls_model(hls_model, board, clock_mhz, "hls")
    if backend:
        info = dataclasses.replace(info, backend=backend)
    render_board_files(out_dir, board, info)
    return out_dir, hls_model, info


def header_prototype(out_dir, info):
    header = (out_dir / "hls" / "firmware" / f"{info.project_name}.h").read_text()
    match = re.search(rf"void {info.project_name}\((.*?)\);", header, re.S)
    return " ".join(f"void {info.project_name}({match.group(1)})".split()).replace("( ", "(").replace(" )", ")")


def typedef_count(out_dir, type_name):
    """N of `typedef nnet::array<..., N*1> type_name;` in hls4ml's defines.h."""
    defines = (out_dir / "hls" / "firmware" / "defines.h").read_text()
    expr = re.search(rf"typedef nnet::array<.*>, ([0-9*/]+)> {type_name};", defines).group(1)
    return int(eval(expr.replace("/", "//")))  # noqa: S307 (digits and * / only)


@pytest.mark.parametrize("kind, io_type", CASES)
def test_project_info_matches_hls4ml_header(hls_project, kind, io_type):
    out_dir, hls_model, info = rendered(hls_project, kind, io_type)
    assert info.io_type == io_type and info.backend == "Vitis" and info.project_name == "myproject"
    assert info.top_declaration == header_prototype(out_dir, info)
    assert info.input.name == hls_model.get_input_variables()[0].name
    assert info.input.size == int(np.prod(info.input.shape))
    assert info.output.element_type.startswith("ap_fixed<")
    if io_type == "io_stream":
        assert info.input.elements_per_beat == typedef_count(out_dir, info.input.type_name)
        assert info.output.elements_per_beat == typedef_count(out_dir, info.output.type_name)
        assert info.input.beats * info.input.elements_per_beat == info.input.size
    else:
        assert info.input.elements_per_beat == 1


@pytest.mark.parametrize("kind, io_type", CASES[:2])
def test_rendered_files(hls_project, kind, io_type):
    out_dir, _, info = rendered(hls_project, kind, io_type)
    board_dir = out_dir / "board"
    names = {p.relative_to(board_dir).as_posix() for p in board_dir.rglob("*") if p.is_file()}
    assert {"myproject_axis.h", "myproject_axis.cpp", "myproject_axis_tb.cpp", "build_ip.tcl", "Makefile",
            "README.md", "sim/ap_axi_sdata.h"} <= names
    for name in names - {"sim/ap_axi_sdata.h"}:
        if not name.startswith("tb_data") and not name.endswith("_tb"):
            assert "{{" not in (board_dir / name).read_text() and "{%" not in (board_dir / name).read_text()
    wrapper = (board_dir / "myproject_axis.cpp").read_text()
    assert "#pragma HLS INTERFACE axis port=in" in wrapper and "ap_ctrl_none" in wrapper
    assert ("DATAFLOW" in wrapper) == (io_type == "io_stream")
    assert "ap_axiu<16, 0, 0, 0>" in (board_dir / "myproject_axis.h").read_text()
    tcl = (board_dir / "build_ip.tcl").read_text()
    assert "set part xc7z020clg400-1" in tcl and "set clock_period 10.000" in tcl and "-flow_target vivado" in tcl
    assert "\tSTAGE=csynth $(HLS) -f build_ip.tcl" in (board_dir / "Makefile").read_text()  # recipes need tabs
    readme = (board_dir / "README.md").read_text()
    assert "make csynth" in readme and info.top_declaration in readme


def test_board_and_clock_reach_the_tcl(hls_project):
    out_dir, _, info = rendered(hls_project, "mlp", "io_parallel", board_name="zcu104", clock_mhz=200)
    tcl = (out_dir / "board" / "build_ip.tcl").read_text()
    assert "set part xczu7ev-ffvc1156-2-e" in tcl and "set clock_period 5.000" in tcl
    assert info.clock_mhz == 200


def test_vivado_hls_flavour(hls_project):
    out_dir, _, _ = rendered(hls_project, "mlp", "io_parallel", backend="Vivado")
    board_dir = out_dir / "board"
    tcl = (board_dir / "build_ip.tcl").read_text()
    assert "-flow_target" not in tcl and "config_schedule" not in tcl and "open_solution -reset solution1" in tcl
    assert "HLS ?= vivado_hls" in (board_dir / "Makefile").read_text()


def test_board_mismatch_is_refused(hls_project):
    out_dir, hls_model = hls_project("mlp", "io_parallel")
    info = project_info_from_hls_model(hls_model, load_board("pynq-z2"), None, "hls")
    with pytest.raises(ValueError):
        render_board_files(out_dir, load_board("kv260"), info)


def test_templates_are_strict(hls_project):
    _, hls_model = hls_project("mlp", "io_parallel")
    board = load_board("pynq-z2")
    context = template_context(board, project_info_from_hls_model(hls_model, board, None, "hls"))
    del context["macro"]
    with pytest.raises(jinja2.UndefinedError):
        environment().get_template("board/axis.cpp.j2").render(context)


# ---- tcl under plain tclsh: stub every HLS command, log the calls, fail on any Tcl error ----

STUBS = "\n".join(f'proc {c} {{args}} {{ puts "CALL {c} $args" }}' for c in HLS_COMMANDS) + """
rename exit __real_exit
proc exit {args} { puts "CALL exit" }
if {[catch {source [lindex $argv 0]} message]} { puts stderr $message; __real_exit 1 }
__real_exit 0
"""


def run_tcl(board_dir, tmp_path, stage=None):
    stub = tmp_path / "stubs.tcl"
    stub.write_text(STUBS)
    env = {"PATH": "/usr/bin:/bin"} | ({"STAGE": stage} if stage else {})
    return subprocess.run(["tclsh", str(stub), str(board_dir / "build_ip.tcl")], capture_output=True, text=True,
                          env=env, timeout=30)


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
@pytest.mark.parametrize("kind, io_type, backend", [("mlp", "io_parallel", None), ("conv", "io_stream", None),
                                                    ("mlp", "io_parallel", "Vivado")])
def test_tcl_runs_under_tclsh(hls_project, tmp_path, kind, io_type, backend):
    out_dir, _, _ = rendered(hls_project, kind, io_type, backend=backend)
    board_dir = out_dir / "board"
    ip = run_tcl(board_dir, tmp_path)
    assert ip.returncode == 0, ip.stderr
    calls = [line.split(maxsplit=2)[1:] for line in ip.stdout.splitlines() if line.startswith("CALL ")]
    commands = [c[0] for c in calls]
    assert commands[:2] == ["open_project", "set_top"] and commands[-2:] == ["export_design", "exit"]
    assert ["set_top", "myproject_axis"] in calls and ["set_part", "xc7z020clg400-1"] in calls
    added = [c[1] for c in calls if c[0] == "add_files"]
    assert any(str(out_dir / "hls" / "firmware" / "myproject.cpp") in a for a in added)
    assert any(str(board_dir / "myproject_axis.cpp") in a for a in added)
    csynth = run_tcl(board_dir, tmp_path, stage="csynth")
    assert csynth.returncode == 0 and "csynth_design" in csynth.stdout and "export_design" not in csynth.stdout


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
def test_tcl_errors_are_caught(hls_project, tmp_path):
    out_dir, _, _ = rendered(hls_project, "mlp", "io_parallel")
    assert run_tcl(out_dir / "board", tmp_path, stage="bitstream").returncode == 1
    broken = tmp_path / "board"
    shutil.copytree(out_dir / "board", broken)
    tcl = broken / "build_ip.tcl"
    tcl.write_text(tcl.read_text().replace("set part ", "set no_part "))  # a missing variable must fail
    assert run_tcl(broken, tmp_path).returncode == 1


# ---- the wrapper proven exact with g++ ----

@pytest.mark.slow
@pytest.mark.parametrize("kind, io_type", CASES[:2])
def test_axis_wrapper_is_bit_exact(hls_project, kind, io_type):
    out_dir, hls_model, info = rendered(hls_project, kind, io_type)
    hls_model.compile()
    x = grid_inputs(32, info.input.size)
    x[0] = -2.0  # the most negative input: sign bits must travel through the words
    expected = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    result = check_axis_wrapper(out_dir, info, x, expected)
    assert result.passed, result.log
    assert result.vectors == 32 and "32 vectors, 0 mismatched" in result.log

    # The same testbench must fail on a single wrong expected value.
    wrong = expected.copy()
    wrong[3, 0] += 2.0 ** -info.output.fractional
    (out_dir / "board" / "tb_data" / "wrong.txt").write_text(
        "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in wrong))
    ran = subprocess.run([str(out_dir / "board" / "myproject_axis_tb"), "tb_data/inputs.txt", "tb_data/wrong.txt"],
                         cwd=out_dir / "board", capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and "vector 3 output 0" in ran.stderr


@pytest.mark.slow
def test_axis_wrapper_check_catches_a_broken_wrapper(hls_project, tmp_path):
    out_dir, _, info = rendered(hls_project, "mlp", "io_stream")
    broken = tmp_path / "out"
    shutil.copytree(out_dir / "board", broken / "board")
    (broken / "hls").symlink_to(out_dir / "hls")
    wrapper = broken / "board" / "myproject_axis.cpp"
    wrapper.write_text(wrapper.read_text().replace("i == MYPROJECT_AXIS_N_OUT - 1", "false"))  # TLAST never set
    result = check_axis_wrapper(broken, info, grid_inputs(4, info.input.size))
    assert not result.passed and result.stage == "run" and "last 0" in result.log
