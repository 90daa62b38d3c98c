"""Which g++ optimization level the build's one C++ program should use: compile time of hls4ml's network and
run time of the testbench over the build's vectors, per level, on an existing build folder.

    python benchmarks/opt_levels.py OUT [--levels=-O0,-Og,-O1,-O2,-O3]

CPU seconds (user + system of g++ / the testbench), so a loaded machine inflates them less than wall time.
jpq2hw/verify/gxx.py's OPT_LEVEL comes from this table.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jpq2hw.verify import gxx  # noqa: E402


def cpu_of(cmd: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(cmd, capture_output=True, text=True, **kw)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--levels", default="-O0,-Og,-O1,-O2,-O3", help="comma-separated; write --levels=-O1,-O3")
    args = ap.parse_args()
    out = args.out.resolve()
    board, hls = out / "board", out / "hls"
    tb = next(board.glob("*_tb.cpp"))
    wrapper = board / tb.name.replace("_tb.cpp", ".cpp")
    network = hls / "firmware" / "myproject.cpp"
    inputs = board / "tb_data" / "inputs.txt"
    vectors = sum(1 for line in inputs.read_text().splitlines() if line.strip())
    includes = [f"-I{p}" for p in (board / "sim", board, hls / "firmware", hls / "firmware" / "ap_types")]
    defines = [f'-DWEIGHTS_DIR="{hls / "firmware" / "weights"}"']
    cxx = gxx.gxx()
    print(f"{out.name}: {vectors} vectors; CPU seconds")
    print(f"{'level':<7}{'compile network':>17}{'run (wrapper)':>15}{'sum':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        flags = [*gxx.BASE_FLAGS, "-O1", *includes, *defines]
        for src in (tb, wrapper):  # the small units at the build's level: only the network's level varies
            subprocess.run([cxx, *flags, "-c", str(src), "-o", str(tmp / f"{src.stem}.o")], check=True)
        for level in args.levels.split(","):
            obj = tmp / f"net{level}.o"
            compile_s, run = cpu_of([cxx, *gxx.BASE_FLAGS, level, *includes, *defines, "-c", str(network),
                                     "-o", str(obj)])
            if run.returncode != 0:
                print(f"{level:<7} compile failed: {run.stderr[-200:]}")
                continue
            exe = tmp / f"tb{level}"
            subprocess.run([cxx, str(tmp / f"{tb.stem}.o"), str(tmp / f"{wrapper.stem}.o"), str(obj), "-o", str(exe)],
                           check=True)
            run_s, ran = cpu_of([str(exe), str(inputs), "-d", "0"], cwd=board)
            status = "" if ran.returncode == 0 else f"  (exit {ran.returncode})"
            print(f"{level:<7}{compile_s:>17.1f}{run_s:>15.1f}{compile_s + run_s:>8.1f}{status}", flush=True)


if __name__ == "__main__":
    main()
