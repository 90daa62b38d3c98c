"""Prove the AXI-Stream wrapper exact: compile its testbench with g++ (against hls4ml's C++ and ap_types)
and run it on the build's input vectors; it compares the wrapper with hls4ml's top bit for bit."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jpq2hw.errors import ToolMissing
from jpq2hw.writer.project_info import ProjectInfo

TB_DATA = "tb_data"
CXXFLAGS = ["-std=c++17", "-O1", "-Wno-unknown-pragmas"]  # -O1: the testbench is small, compile time dominates


@dataclass(frozen=True)
class AxisCheckResult:
    passed: bool
    vectors: int
    stage: str  # "compile" or "run": where it stopped
    log: str  # compiler or testbench output

    def __bool__(self) -> bool:
        return self.passed


def write_vectors(path: Path, vectors: np.ndarray) -> None:
    # repr of a float64 round-trips exactly, so the testbench reads back the very same values.
    path.write_text("".join(" ".join(repr(float(v)) for v in row) + "\n" for row in vectors))


def compile_command(board_dir: Path, hls_dir: Path, info: ProjectInfo, exe: Path) -> list[str]:
    w = info.wrapper_name
    return [
        shutil.which("g++") or "g++",
        *CXXFLAGS,
        f"-I{board_dir / 'sim'}",
        f"-I{board_dir}",
        f"-I{hls_dir / 'firmware'}",
        f"-I{hls_dir / 'firmware' / 'ap_types'}",
        f'-DWEIGHTS_DIR="{hls_dir / "firmware" / "weights"}"',
        str(board_dir / f"{w}_tb.cpp"),
        str(board_dir / f"{w}.cpp"),
        str(hls_dir / "firmware" / f"{info.project_name}.cpp"),
        "-o",
        str(exe),
    ]


def check_axis_wrapper(out_dir, info: ProjectInfo, inputs, expected=None, timeout_s: float = 600) -> AxisCheckResult:
    """Compile and run the rendered wrapper testbench in out_dir/board/.

    inputs: array of input vectors, each flattened in the order hls4ml's top takes them (as for predict);
    expected: optional output vectors the wrapper's outputs must equal exactly.
    Writes them to board/tb_data/ (so `make csim` reruns the same check)."""
    if shutil.which("g++") is None:
        raise ToolMissing("g++ is needed to check the AXI-Stream wrapper and is not on the PATH")
    out_dir = Path(out_dir).resolve()
    board_dir, hls_dir = out_dir / "board", out_dir / info.hls_subdir
    x = np.asarray(inputs, dtype=np.float64).reshape(-1, info.input.size)
    data_dir = board_dir / TB_DATA
    data_dir.mkdir(exist_ok=True)
    args = [str(data_dir / "inputs.txt")]
    write_vectors(data_dir / "inputs.txt", x)
    if expected is not None:
        y = np.asarray(expected, dtype=np.float64).reshape(len(x), info.output.size)
        write_vectors(data_dir / "expected.txt", y)
        args.append(str(data_dir / "expected.txt"))
    else:
        (data_dir / "expected.txt").unlink(missing_ok=True)  # a stale file would be checked by `make csim`

    exe = board_dir / f"{info.wrapper_name}_tb"
    built = subprocess.run(compile_command(board_dir, hls_dir, info, exe), capture_output=True, text=True,
                           timeout=timeout_s)
    if built.returncode != 0:
        return AxisCheckResult(False, len(x), "compile", built.stderr[-4000:])
    # hls4ml loads weights relative to WEIGHTS_DIR (absolute), so the working folder does not matter.
    ran = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=board_dir, timeout=timeout_s)
    return AxisCheckResult(ran.returncode == 0, len(x), "run", (ran.stdout + ran.stderr)[-4000:])
