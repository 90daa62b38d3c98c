"""Board files of a build: render templates/board/ into OUT/board/ for one board and hls4ml project.

What is rendered (names for project `myproject`):
  myproject_axis.h/.cpp  AXI-Stream top level around hls4ml's top
  myproject_axis_tb.cpp  g++ testbench: wrapper vs. hls4ml's top, bit for bit
  build_ip.tcl           Vitis HLS (or Vivado HLS) C-synthesis + IP export, part and clock from the board
  Makefile, README.md    how to run the above
  sim/ap_axi_sdata.h     g++ stand-in for the Xilinx header (copied as is)"""

from __future__ import annotations

import shutil
from pathlib import Path

from jpq2hw import paths
from jpq2hw.writer.axis_check import AxisCheckResult, check_axis_wrapper
from jpq2hw.writer.project_info import PortInfo, ProjectInfo, project_info_from_hls_model
from jpq2hw.templating import environment

__all__ = [
    "AxisCheckResult",
    "PortInfo",
    "ProjectInfo",
    "BOARD_SUBDIR",
    "check_axis_wrapper",
    "project_info_from_hls_model",
    "render_board_files",
]

BOARD_SUBDIR = "board"
TEMPLATE_DIR = "board"
SIM_FILES = ["sim/ap_axi_sdata.h"]  # copied verbatim: no variables in them


def rendered_names(info: ProjectInfo) -> dict[str, str]:
    """Template file -> output file name."""
    w = info.wrapper_name
    return {
        "axis.h.j2": f"{w}.h",
        "axis.cpp.j2": f"{w}.cpp",
        "axis_tb.cpp.j2": f"{w}_tb.cpp",
        "build_ip.tcl.j2": "build_ip.tcl",
        "Makefile.j2": "Makefile",
        "README.md.j2": "README.md",
    }


def template_context(board, info: ProjectInfo) -> dict:
    vitis = info.backend == "Vitis"
    return {
        "board": board,
        "info": info,
        "vitis": vitis,
        "hls_tool": "vitis_hls" if vitis else "vivado_hls",
        "macro": info.wrapper_name.upper(),  # prefix of the wrapper's constants
        "guard": f"{info.wrapper_name.upper()}_H_",
    }


def render_board_files(out_dir: str | Path, board, info: ProjectInfo) -> list[Path]:
    """Render the board files into out_dir/board/ and return the paths written."""
    if board.name != info.board_name or board.part != info.part:
        raise ValueError(f"ProjectInfo was made for {info.board_name} ({info.part}), not {board.name}")
    target = Path(out_dir) / BOARD_SUBDIR
    target.mkdir(parents=True, exist_ok=True)
    env = environment()
    context = template_context(board, info)
    written = []
    for template_name, file_name in rendered_names(info).items():
        path = target / file_name
        path.write_text(env.get_template(f"{TEMPLATE_DIR}/{template_name}").render(context))
        written.append(path)
    for rel in SIM_FILES:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths.TEMPLATES / TEMPLATE_DIR / rel, path)
        written.append(path)
    return written
