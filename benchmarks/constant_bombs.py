"""Time and peak memory of `jpq2hw report` on the folded-constant bombs of tests/testkit/bombs.py (Range(0, 4e9),
ConstantOfShape/Expand/Tile of 5e4 x 5e4, an If branch, a Loop of 1e12 trips, ...), each in a fresh process
capped at --cap-gb of address space and --timeout seconds, as a user would run it:

    python benchmarks/constant_bombs.py [--cap-gb 4] [--timeout 120]

Prints per file: exit code, wall seconds, its peak RSS (MB) and the first 110 characters of the last stderr line.
Run it on an old checkout (PYTHONPATH) to see what the bombs did before they were refused from shapes.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap-gb", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    from testkit.bombs import bomb_files

    cap = int(args.cap_gb * 2**30)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; cap {args.cap_gb} GB, "
          f"timeout {args.timeout:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for path in bomb_files(Path(tmp)):
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "jpq2hw.cli", "report", str(path)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True, preexec_fn=limit,
                                    cwd=tmp)  # not the checkout: PYTHONPATH picks the jpq2hw measured
            timer = threading.Timer(args.timeout, proc.kill)
            timer.start()
            err = proc.stderr.read()
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
            timer.cancel()
            seconds = time.perf_counter() - start
            code = os.waitstatus_to_exitcode(status)
            last = (err.strip().splitlines() or [""])[-1] if code != -9 else f"(killed after {args.timeout:.0f} s)"
            print(f"{path.stem:28s} exit {code:4d} {seconds:7.1f} s {usage.ru_maxrss / 1024:7.0f} MB  {last[:110]}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
