"""The hardware's own end-point error on the stereo flagship's whole test split, through a build's emulator.

    python benchmarks/stereo_hw_epe.py OUT [--n 200]

OUT is a `jpq2hw build examples/stereo/stereo.onnx` output folder (OUT/emulator/ exists once the emulator agreed
bit for bit with the C-simulation on the build's vectors). The test split is the one examples/stereo/RESULTS.md
uses (jpq2hw.data.stereo, split "test", 24x48, D = 12); the model's own reference (onnxruntime, the arithmetic
the build proves the C++ reproduces) runs beside it, so the two EPEs must be equal and the maps identical.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.data.stereo import StereoConfig, d1, epe, make_split
    from jpq2hw.emulate.program import Program
    from jpq2hw.emulate.run import run
    from jpq2hw.verify.reference import Reference

    split = make_split("test", args.n, StereoConfig(height=24, width=48, max_disp=12))
    x, gt = split["image"], split["disparity"]
    program = Program.load(Path(args.out) / "emulator")
    start = time.perf_counter()
    hw = run(program, x.reshape(len(x), -1)).reshape(gt.shape)
    seconds = time.perf_counter() - start
    ref = Reference(ModelWrapper(str(ROOT / "examples/stereo/stereo.onnx")), max_accum_bits=20).run_batch(x)
    ref = ref.reshape(gt.shape)
    print(f"test split: {len(x)} pairs; emulator {seconds:.2f} s ({seconds / len(x) * 1000:.1f} ms a pair)")
    print(f"hardware (emulator) EPE {epe(hw, gt):.3f} px, D1 {100 * d1(hw, gt):.2f}%")
    print(f"model reference     EPE {epe(ref, gt):.3f} px, D1 {100 * d1(ref, gt):.2f}%")
    print(f"identical maps: {np.array_equal(hw, ref)}")


if __name__ == "__main__":
    main()
