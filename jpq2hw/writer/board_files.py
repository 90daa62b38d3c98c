"""Board files of a build: render templates/board/ into OUT/board/ for one board and hls4ml project.

What is rendered (names for project `myproject`):
  myproject_axis.h/.cpp  AXI-Stream top level around hls4ml's top
  myproject_axis_tb.cpp  g++ testbench: wrapper vs. hls4ml's top, bit for bit
  build_ip.tcl           Vitis HLS (or Vivado HLS) C-synthesis + IP export, part and clock from the board
  Makefile, README.md    how to run the above
  sim/ap_axi_sdata.h     g++ stand-in for the Xilinx header (copied as is)
  stream.json            the stream layout and tool names, read by `jpq2hw synth` (jpq2hw/synth/project.py)
  build_bd.tcl           Vivado project + block design + bitstream for the board's family (templates/deploy/):
                         Zynq-7000 or Zynq UltraScale+ PS + AXI DMA + the core, or (no PS) a self-checking
                         stream harness (harness/jpq2hw_harness.v, harness/board.xdc)
  driver/jpq2hw_driver.py  PYNQ driver (boards with pynq_overlay): DMA the saved vectors, compare bit for bit"""

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
DEPLOY_DIR = "deploy"
SIM_FILES = ["sim/ap_axi_sdata.h"]

# Vivado board-file names (get_board_parts patterns): used when the vendor board files are installed, else the
# block design is built on the bare part.
BOARD_PART_PATTERNS = {
    "pynq-z1": "*pynq-z1*", "pynq-z2": "*pynq-z2*", "ultra96-v2": "*ultra96v2*", "zcu104": "*zcu104*",
    "kv260": "*kv260_som*", "arty-a7-100t": "*arty-a7-100*",
}
# Pins of the stream harness (boards without a processing system): oscillator, active-low reset button, 4 LEDs.
HARNESS_BOARDS = {
    "arty-a7-100t": {"source": "Digilent Arty-A7-100-Master.xdc: CLK100MHZ, ck_rst, led[3:0]", "osc_mhz": 100,
                     "clk": "E3", "reset_n": "C2", "leds": ["H5", "J5", "T9", "T10"], "iostandard": "LVCMOS33"},
}  # copied verbatim: no variables in them


def rendered_names(info: ProjectInfo, board=None) -> dict[str, str]:
    """Template file (relative to templates/) -> output file name (relative to OUT/board/).

    Without a board only the HLS files; with one also its family's block design and, for PYNQ boards, the driver."""
    w = info.wrapper_name
    names = {
        f"{TEMPLATE_DIR}/axis.h.j2": f"{w}.h",
        f"{TEMPLATE_DIR}/axis.cpp.j2": f"{w}.cpp",
        f"{TEMPLATE_DIR}/axis_tb.cpp.j2": f"{w}_tb.cpp",
        f"{TEMPLATE_DIR}/build_ip.tcl.j2": "build_ip.tcl",
        f"{TEMPLATE_DIR}/Makefile.j2": "Makefile",
        f"{TEMPLATE_DIR}/README.md.j2": "README.md",
    }
    if board is not None:
        names.update(deploy_names(board))
    return names


def deploy_names(board) -> dict[str, str]:
    """The synthesis/deployment files of issue 7 (templates/deploy/), chosen by the board's template family."""
    design = board.templates.block_design
    names = {
        f"{DEPLOY_DIR}/stream.json.j2": "stream.json",
        f"{DEPLOY_DIR}/bd_{design}.tcl.j2": "build_bd.tcl",
    }
    if design == "stream_harness":
        names[f"{DEPLOY_DIR}/harness.v.j2"] = "harness/jpq2hw_harness.v"
        names[f"{DEPLOY_DIR}/harness.xdc.j2"] = "harness/board.xdc"
    if board.templates.pynq_overlay:
        names[f"{DEPLOY_DIR}/driver.py.j2"] = "driver/jpq2hw_driver.py"
    return names


def template_context(board, info: ProjectInfo) -> dict:
    vitis = info.backend == "Vitis"
    return {
        "board": board,
        "info": info,
        "vitis": vitis,
        "hls_tool": "vitis_hls" if vitis else "vivado_hls",
        "macro": info.wrapper_name.upper(),  # prefix of the wrapper's constants
        "guard": f"{info.wrapper_name.upper()}_H_",
        "vivado_hls_tool": "vivado",  # the tool that runs build_bd.tcl
        "bd_name": "jpq2hw_bd",  # block design name; the bitstream is <bd_name>_wrapper.bit
        "overlay_name": info.wrapper_name,  # OUT/board/overlay/<overlay_name>.bit + .hwh (PYNQ wants both)
        "board_part_pattern": BOARD_PART_PATTERNS.get(board.name, f"*{board.name}*"),
        "dma_addr_width": 64 if board.processing_system == "zynquplus" else 32,
        "harness": HARNESS_BOARDS.get(board.name),
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
    for template_name, file_name in rendered_names(info, board).items():
        path = target / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template_name).render(context))
        written.append(path)
    for rel in SIM_FILES:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths.TEMPLATES / TEMPLATE_DIR / rel, path)
        written.append(path)
    return written
