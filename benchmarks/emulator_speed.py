"""The emulator beside the C-simulation on a finished build: seconds per frame of each, and that they agree.

    python benchmarks/emulator_speed.py OUT [OUT ...]

OUT is a `jpq2hw build` output folder (with emulator/, i.e. the emulator agreed with the C-simulation). The
C-simulation's time is the build's own (report.json timings_s: compile, simulate over all its vectors); the
emulator runs the same vectors here (vectors/hw_inputs.npy, or vectors/inputs.npy when the hardware reads the
model's input), in this process, and its outputs are compared with the C++'s proven outputs again.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(folders: list[str]) -> None:
    from jpq2hw.emulate.program import Program
    from jpq2hw.emulate.run import run

    load = os.getloadavg()
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min), {os.cpu_count()} cores")
    print("| build | vectors | g++ compile (s) | C-sim (s/vector) | emulator (s/vector) | speed-up | same bits |")
    print("|---|---|---|---|---|---|---|")
    for folder in map(Path, folders):
        report = json.loads((folder / "report.json").read_text())
        vec = folder / "vectors"
        hw = vec / "hw_inputs.npy"
        x = np.load(hw if hw.exists() else vec / "inputs.npy")
        want = np.load(vec / "hw_outputs.npy" if hw.exists() else vec / "expected.npy")
        program = Program.load(folder / "emulator")
        start = time.perf_counter()
        got = run(program, x.reshape(len(x), -1))
        emu = (time.perf_counter() - start) / len(x)
        csim = report["timings_s"]["simulate"] / len(x)
        same = np.array_equal(got.reshape(len(x), -1), want.reshape(len(x), -1))
        print(f"| {Path(report['model']).name} | {len(x)} | {report['timings_s']['compile']:.0f} | {csim:.3f} | "
              f"{emu:.4f} | {csim / emu:.0f}x | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main(sys.argv[1:] or sys.exit(__doc__))
