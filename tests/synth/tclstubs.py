"""Vitis HLS and Vivado commands stubbed for plain tclsh: each call is logged as `CALL <command> <args>`, any Tcl
error (syntax, missing variable, a template's own `error`) exits 1. The stubs also write the files the real tools
would (csynth.xml, the IP's component.xml, the bitstream and .hwh), so `jpq2hw synth` can run on them end to end."""

import os
import stat
import subprocess
from pathlib import Path

# A real Vitis HLS report (tests/report/data) for the stand-in csynth_design to "write".
VITIS_CSYNTH = Path(__file__).resolve().parents[1] / "report" / "data" / "vitis_hls_sample" / "csynth.xml"

HLS_COMMANDS = ["open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock", "config_compile",
                "config_schedule"]
VIVADO_COMMANDS = ["create_project", "set_property", "current_project", "update_ip_catalog", "create_bd_design",
                   "apply_bd_automation", "connect_bd_intf_net", "connect_bd_net", "get_bd_pins", "assign_bd_address",
                   "validate_bd_design", "save_bd_design", "get_files", "generate_target", "add_files",
                   "current_fileset", "update_compile_order", "wait_on_run", "get_runs", "open_run",
                   "report_utilization", "report_timing_summary", "get_timing_paths", "create_bd_port"]

PROLOGUE = """
rename exit __real_exit
proc exit {args} { puts "CALL exit" }
"""
EPILOGUE = """
if {[catch {source [lindex $argv 0]} message]} { puts stderr "TCL ERROR: $message"; __real_exit 1 }
__real_exit 0
"""


def _generic(commands):
    return "\n".join(f'proc {c} {{args}} {{ puts "CALL {c} $args"; return {c}_result }}' for c in commands)


def hls_stubs(csynth_xml: Path) -> str:
    return PROLOGUE + _generic(HLS_COMMANDS) + f"""
proc csynth_design {{args}} {{
    puts "CALL csynth_design $args"
    file mkdir [file join ${{::top}}_prj solution1 syn report]
    file copy -force {{{csynth_xml}}} [file join ${{::top}}_prj solution1 syn report csynth.xml]
}}
proc export_design {{args}} {{
    puts "CALL export_design $args"
    file mkdir [file join ${{::top}}_prj solution1 impl ip]
    close [open [file join ${{::top}}_prj solution1 impl ip component.xml] w]
}}
""" + EPILOGUE


def vivado_stubs(board_part: str = "") -> str:
    return PROLOGUE + _generic(VIVADO_COMMANDS) + f"""
proc get_board_parts {{args}} {{ puts "CALL get_board_parts $args"; return {{{board_part}}} }}
proc create_bd_cell {{args}} {{ puts "CALL create_bd_cell $args"; return /[lindex $args end] }}
proc get_bd_intf_pins {{args}} {{ puts "CALL get_bd_intf_pins $args"; return /pin[llength $args] }}
proc get_bd_cells {{args}} {{ puts "CALL get_bd_cells $args"; return /rst_ps_100M }}
proc make_wrapper {{args}} {{ puts "CALL make_wrapper $args"; return $::proj_dir/hdl/${{::bd_name}}_wrapper.v }}
proc get_property {{name args}} {{
    puts "CALL get_property $name $args"
    switch $name {{
        PROGRESS {{ return 100% }}
        DIRECTORY {{ return [file join $::proj_dir impl_1] }}
        SLACK {{ return 0.25 }}
        default {{ return x }}
    }}
}}
proc launch_runs {{args}} {{
    puts "CALL launch_runs $args"
    file mkdir [file join $::proj_dir impl_1]
    close [open [file join $::proj_dir impl_1 ${{::bd_name}}_wrapper.bit] w]
    set hwh [file join $::proj_dir p.gen sources_1 bd $::bd_name hw_handoff]
    file mkdir $hwh
    close [open [file join $hwh $::bd_name.hwh] w]
}}
""" + EPILOGUE


def write_stub(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_tcl(stub: Path, script: Path, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["tclsh", str(stub), str(script)], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"} | (env or {}))


def calls(stdout: str) -> list[list[str]]:
    return [line.split(maxsplit=2)[1:] for line in stdout.splitlines() if line.startswith("CALL ")]


def fake_tools(bin_dir: Path, csynth_xml: Path, fail: str | None = None) -> Path:
    """vitis_hls and vivado executables that run the scripts under tclsh with the stubs; `fail` names one that
    exits 1 after printing an error, as a broken synthesis would."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    hls = write_stub(bin_dir / "hls_stubs.tcl", hls_stubs(csynth_xml))
    viv = write_stub(bin_dir / "vivado_stubs.tcl", vivado_stubs())
    scripts = {
        "vitis_hls": f'#!/bin/sh\n# fake vitis_hls -f SCRIPT\necho "****** Vitis HLS (stub)"\nexec tclsh {hls} "$2"\n',
        "vivado": f'#!/bin/sh\n# fake vivado ... -source SCRIPT\necho "****** Vivado (stub)"\nexec tclsh {viv} "$7"\n',
    }
    if fail:
        scripts[fail] = '#!/bin/sh\necho "ERROR: [HLS 200-70] Compilation errors found (stub)"\nexit 1\n'
    for name, text in scripts.items():
        tool = bin_dir / name
        tool.write_text(text)
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


def tool_path(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}/usr/bin:/bin"
