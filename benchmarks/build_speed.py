"""Time each step of `jpq2hw build` on the example models: in the io type `--io auto` picks, and also in
io_stream when that pick was io_parallel.

    python benchmarks/build_speed.py [--vectors 100]

Prints one row per (model, io type): seconds per step and in total, and whether the build was bit-exact.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from build import models  # noqa: E402  (the test models: made node by node and by Brevitas)

from jpq2hw.build import BuildOptions, run_build  # noqa: E402

STEPS = ["load", "normalize", "annotate", "convert", "write", "reference", "compile", "simulate", "axis"]


def example_models(work: Path) -> dict[str, Path]:
    found = {p.stem: p for p in sorted((ROOT / "examples").glob("*/*.onnx"))}
    found["sparse_mlp"] = models.sparse_mlp(work / "sparse_mlp.onnx")
    found["conv_stack"] = models.conv_stack(work / "conv_stack.onnx")
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"{'model':<22}{'io':<10}" + "".join(f"{s:>10}" for s in STEPS) + f"{'total':>10}  exact")
        for name, path in example_models(work).items():
            ios = ["auto"]
            while ios:
                io = ios.pop(0)
                start = time.perf_counter()
                code, report = run_build(BuildOptions(model=path, out=work / f"{name}_{io}", io=io, quiet=True,
                                                      vectors=args.vectors))
                total = time.perf_counter() - start
                t = report["timings_s"]
                used = report["io_type"].replace("io_", "") + ("*" if io == "auto" else "")
                print(f"{name:<22}{used:<10}" + "".join(f"{t.get(s, 0):>10.2f}" for s in STEPS)
                      + f"{total:>10.2f}  {report['bit_exact']}", flush=True)
                if io == "auto" and report["io_type"] == "io_parallel":
                    ios.append("stream")  # small enough for both; a large model is built in io_stream only
        print("* chosen by --io auto; models whose auto choice is io_stream are not built fully unrolled")


if __name__ == "__main__":
    main()
