"""The build's one C++ program: hls4ml's network, the AXI-Stream wrapper and its testbench, compiled once
(jpq2hw/verify/gxx.py) and run once over all the vectors: the C-simulation and the wrapper check in one run.
Per vector the testbench runs the wrapper (around hls4ml's top) and checks its words; on the first vectors (all
by default) it also runs the top directly and compares the two bit for bit; it writes the wrapper's outputs,
which the build compares with the reference."""

from __future__ import annotations

import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jpq2hw.verify import gxx
from jpq2hw.writer.project_info import ProjectInfo

TB_DATA = "tb_data"
OUTPUTS = "outputs.txt"


@dataclass(frozen=True)
class AxisCheckResult:
    passed: bool
    vectors: int
    stage: str  # "compile" or "run": where it stopped
    log: str  # compiler or testbench output
    outputs: np.ndarray | None = None  # (vectors, output size): hls4ml's top, as the testbench computed it

    def __bool__(self) -> bool:
        return self.passed


def write_vectors(path: Path, vectors: np.ndarray) -> None:
    # 17 significant digits round-trip a float64 exactly, so the testbench reads back the very same values.
    np.savetxt(path, np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1), fmt="%.17g")


def testbench_path(out_dir: Path, info: ProjectInfo) -> Path:
    return Path(out_dir).resolve() / "board" / f"{info.wrapper_name}_tb"


def build_testbench(out_dir, info: ProjectInfo, timeout_s: float = 1200) -> gxx.Compiled:
    """Compile hls4ml's network, the wrapper and the testbench once into OUT/board/<wrapper>_tb."""
    out_dir = Path(out_dir).resolve()
    board_dir, hls_dir = out_dir / "board", out_dir / info.hls_subdir
    w = info.wrapper_name
    sources = [board_dir / f"{w}_tb.cpp", board_dir / f"{w}.cpp", hls_dir / "firmware" / f"{info.project_name}.cpp"]
    includes = [board_dir / "sim", board_dir, hls_dir / "firmware", hls_dir / "firmware" / "ap_types"]
    # hls4ml loads weights relative to WEIGHTS_DIR (absolute), so the working folder does not matter.
    defines = [f'WEIGHTS_DIR="{hls_dir / "firmware" / "weights"}"']
    return gxx.build_program(sources, testbench_path(out_dir, info), includes, defines, timeout_s=timeout_s)


def run_testbench(out_dir, info: ProjectInfo, inputs, expected=None, direct_vectors: int | None = None,
                  timeout_s: float = 3600) -> AxisCheckResult:
    """Run the compiled testbench on `inputs` (each flattened in the order hls4ml's top takes them, as for
    predict); `expected`: optional outputs the wrapper's must equal exactly; `direct_vectors`: run hls4ml's top
    directly beside the wrapper on the first this many vectors only (None: all). Writes the vectors to
    board/tb_data/ (so `make csim` reruns the same check) and reads back the wrapper's outputs."""
    out_dir = Path(out_dir).resolve()
    board_dir = out_dir / "board"
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
    outputs_path = data_dir / OUTPUTS
    outputs_path.unlink(missing_ok=True)
    try:
        if direct_vectors is not None:
            args += ["-d", str(int(direct_vectors))]
        ran = subprocess.run([str(testbench_path(out_dir, info)), *args, "-o", str(outputs_path)],
                             capture_output=True, text=True, cwd=board_dir, timeout=timeout_s,
                             preexec_fn=_large_stack)
    except subprocess.TimeoutExpired:
        return AxisCheckResult(False, len(x), "run", f"the testbench ran longer than {timeout_s:.0f} s")
    log = (ran.stdout + ran.stderr)[-4000:]
    if ran.returncode < 0:
        log += f"\nthe testbench died with signal {-ran.returncode}"
    outputs = None
    if ran.returncode in (0, 1) and outputs_path.is_file():
        outputs = np.loadtxt(outputs_path, dtype=np.float64, ndmin=2).reshape(-1, info.output.size)
        if len(outputs) != len(x):
            return AxisCheckResult(False, len(x), "run", log + f"\n{len(outputs)} output vectors for {len(x)} inputs")
    return AxisCheckResult(ran.returncode == 0, len(x), "run", log, outputs)


def check_axis_wrapper(out_dir, info: ProjectInfo, inputs, expected=None, timeout_s: float = 1200) -> AxisCheckResult:
    """Compile the rendered wrapper testbench in out_dir/board/ and run it (build_testbench + run_testbench)."""
    built = build_testbench(out_dir, info, timeout_s)
    if not built.ok:
        return AxisCheckResult(False, len(np.asarray(inputs).reshape(-1, info.input.size)), "compile", built.log)
    return run_testbench(out_dir, info, inputs, expected, timeout_s)


def _large_stack() -> None:
    """hls4ml's io_parallel layers keep their products in local arrays (a dense layer: n_in * n_out of them):
    give the testbench as much stack as the system allows instead of the usual 8 MiB."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
    except (ValueError, OSError):
        pass
