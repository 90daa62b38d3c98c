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
    # hls4ml loads weights from WEIGHTS_DIR; the testbench runs in board/ (here and in `make csim`), so the path is
    # relative: OUT's own path (any characters, renamed at the end) never enters C++ or the Makefile.
    defines = [f'WEIGHTS_DIR="../{info.hls_subdir}/firmware/weights"']
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
    # the vectors split over the free cores: one testbench process per part, each part's files beside the whole
    bounds = np.linspace(0, len(x), _parts(len(x)) + 1).astype(int)
    parts = []
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        part_args = list(args)
        if len(bounds) > 2:
            part_args = [str(data_dir / f".part{i}_{Path(a).name}") for a in args]
            write_vectors(Path(part_args[0]), x[lo:hi])
            if expected is not None:
                write_vectors(Path(part_args[1]), y[lo:hi])
        if direct_vectors is not None:
            part_args += ["-d", str(max(0, int(direct_vectors) - lo))]
        part_out = data_dir / (OUTPUTS if len(bounds) == 2 else f".part{i}_{OUTPUTS}")
        part_out.unlink(missing_ok=True)
        parts.append((hi - lo, part_out, subprocess.Popen(
            [str(testbench_path(out_dir, info)), *part_args, "-o", str(part_out)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=board_dir, preexec_fn=_large_stack)))
    logs, outputs, passed, error = [], [], True, None
    for count, part_out, proc in parts:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            error = error or f"the testbench ran longer than {timeout_s:.0f} s"
            continue
        logs.append(stdout + stderr)
        if proc.returncode < 0:
            error = error or f"the testbench died with signal {-proc.returncode}"
        elif proc.returncode not in (0, 1) or not part_out.is_file():
            error = error or f"the testbench stopped with exit code {proc.returncode}"
        else:
            got = np.loadtxt(part_out, dtype=np.float64, ndmin=2).reshape(-1, info.output.size)
            if len(got) != count:
                error = error or f"{len(got)} output vectors for {count} inputs"
            outputs.append(got)
        passed = passed and proc.returncode == 0
    if len(parts) > 1:
        for f in data_dir.glob(".part*"):
            f.unlink()
    log = "".join(logs)[-4000:]
    if error is not None:
        return AxisCheckResult(False, len(x), "run", (log + "\n" + error).strip())
    return AxisCheckResult(passed, len(x), "run", log, np.concatenate(outputs))


MIN_VECTORS_PER_PART = 25  # below this a second process costs more than it saves


def _parts(vectors: int) -> int:
    return max(1, min(gxx.workers(), vectors // MIN_VECTORS_PER_PART))


def check_axis_wrapper(out_dir, info: ProjectInfo, inputs, expected=None, timeout_s: float = 1200) -> AxisCheckResult:
    """Compile the rendered wrapper testbench in out_dir/board/ and run it (build_testbench + run_testbench)."""
    built = build_testbench(out_dir, info, timeout_s)
    if not built.ok:
        return AxisCheckResult(False, len(np.asarray(inputs).reshape(-1, info.input.size)), "compile", built.log)
    return run_testbench(out_dir, info, inputs, expected, timeout_s=timeout_s)


def _large_stack() -> None:
    """hls4ml's io_parallel layers keep their products in local arrays (a dense layer: n_in * n_out of them):
    give the testbench as much stack as the system allows instead of the usual 8 MiB."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
    except (ValueError, OSError):
        pass
