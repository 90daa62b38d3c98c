"""Time each step of `jpq2hw build` on the example models, in io_parallel and io_stream.

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
            for io in ("parallel", "stream"):
                start = time.perf_counter()
                code, report = run_build(BuildOptions(model=path, out=work / f"{name}_{io}", io=io, quiet=True,
                                                      vectors=args.vectors))
                total = time.perf_counter() - start
                t = report["timings_s"]
                print(f"{name:<22}{io:<10}" + "".join(f"{t.get(s, 0):>10.2f}" for s in STEPS)
                      + f"{total:>10.2f}  {report['bit_exact']}")


if __name__ == "__main__":
    main()
