"""Soak the bit-accuracy matrix: build many random QONNX models (and the edge cases) end to end, C-simulate
them and check them bit for bit; print a table (model, io, exact?, max error, reference, time) and a summary.

    python benchmarks/soak_matrix.py --seeds 0:40 [--edge] [--vectors 100] [--jobs 1] [--out DIR] [--json F]

Each build compiles C++ twice (~15-30 s) and runs in its own process (an abort in the C-simulation is
reported as CRASH for that model). `--jobs 2` runs two builds at once (2 cores). Exit status 1 if any
model was not bit-exact or a build crashed (a JpqError refusal is listed but is not a failure of exactness).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # testkit: the model generators


def _seeds(spec: str) -> list[int]:
    out = []
    for part in spec.split(","):
        if ":" in part:
            a, b = part.split(":")
            out += list(range(int(a), int(b)))
        elif part:
            out.append(int(part))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0:20", help="e.g. 0:40 or 1,5,9 (random models)")
    ap.add_argument("--io", choices=["parallel", "stream"], default=None, help="force one io type")
    ap.add_argument("--edge", action="store_true", help="also build every edge case in both io types")
    ap.add_argument("--vectors", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)

    from testkit.random_models import EDGE_CASES

    work = args.out or Path(tempfile.mkdtemp(prefix="jpq2hw_soak_"))
    work.mkdir(parents=True, exist_ok=True)
    jobs = [("random", s, args.io, args.vectors, str(work)) for s in _seeds(args.seeds)]
    if args.edge:
        jobs += [("edge", name, io, args.vectors, str(work)) for name in EDGE_CASES for io in ("parallel", "stream")]

    header = f"{'model':<26} {'io':<9} {'status':<16} {'max err':>9} {'reference':<25} {'time s':>7}"
    print(header)
    print("-" * len(header))
    rows = []
    t0 = time.time()

    def show(row):
        err = "-" if row["max_abs_error"] is None else f"{row['max_abs_error']:.3g}"
        print(f"{row['model']:<26} {row['io']:<9} {row['status']:<16} {err:>9} {row['reference'] or '-':<25} "
              f"{row['time_s']:>7.1f}", flush=True)
        if row["error"]:
            print(f"    {row['error'][:160]}", flush=True)
        rows.append(row)

    from testkit.matrix_runner import build_isolated

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:  # each build is its own process (crash-proof)
        for row in pool.map(build_isolated, jobs):
            show(row)

    built = [r for r in rows if r["status"] not in ("refused", "CRASH")]
    exact = [r for r in rows if r["status"] == "exact"]
    refused = [r for r in rows if r["status"] == "refused"]
    bad = [r for r in rows if r["status"] not in ("exact", "refused")]
    print(f"\nsoak: {len(rows)} models, {len(built)} built, {len(exact)} bit-exact, {len(refused)} refused, "
          f"{len(bad)} failures, {time.time() - t0:.0f} s")
    for r in bad:
        print(f"  FAIL {r['model']} ({r['io']}): {r['status']} {r['error'] or ''} [{r['description']}]")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
