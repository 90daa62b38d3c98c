"""Build one matrix case end to end in a child process and report it as a dict.

A generated model can make the C-simulation abort the interpreter (an ap_types assertion in the compiled
C++), so each build runs in its own `python -m testkit.matrix_runner JOB_JSON` process: a crash then
shows up as that case's status ("CRASH (signal 6)") instead of ending the whole run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

from testkit import child_command

BUILD_TIMEOUT_S = 900


def build_one(job: tuple) -> dict:
    """job = (kind, key, io, vectors, workdir): kind 'random' (key = seed) or 'edge' (key = name)."""
    kind, key, io, vectors, workdir = job[:5]
    from jpq2hw.build import BuildOptions, run_build
    from jpq2hw.errors import JpqError
    from testkit.random_models import EDGE_CASES, random_case

    case = random_case(key, io) if kind == "random" else EDGE_CASES[key](io) if io else EDGE_CASES[key]()
    row = {"model": case.name, "io": case.io, "description": case.description, "status": "", "exact": False,
           "max_abs_error": None, "reference": None, "time_s": 0.0, "error": None}
    folder = Path(workdir) / case.name
    t0 = time.time()
    try:
        path = case.save(folder)
        code, report = run_build(BuildOptions(model=path, out=folder / "out", vectors=vectors, io=case.io,
                                              quiet=True, seed=0))
        row.update(exact=bool(report["bit_exact"]), max_abs_error=report["max_abs_error"],
                   reference=report["reference"], status="exact" if code == 0 else "NOT EXACT",
                   first_divergent_layer=report["first_divergent_layer"])
        if case.expect_reference and report["reference"] != case.expect_reference:
            row.update(status="WRONG REFERENCE", exact=False,
                       error=f"reference {report['reference']}, expected {case.expect_reference}")
    except JpqError as exc:
        row.update(status="refused", error=str(exc))
    except Exception as exc:  # a crash is a bug: keep the traceback's last line
        row.update(status="CRASH", error=f"{type(exc).__name__}: {exc}".splitlines()[0],
                   traceback=traceback.format_exc(limit=-3))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    row["time_s"] = round(time.time() - t0, 1)
    return row



def build_isolated(job: tuple) -> dict:
    """build_one(job) in a child process; a crash or a hang becomes the row's status."""
    kind, key, io = job[:3]
    t0 = time.time()
    row = {"model": f"{kind}:{key}", "io": io or "drawn", "description": "", "status": "", "exact": False,
           "max_abs_error": None, "reference": None, "time_s": 0.0, "error": None}
    try:
        argv, env = child_command("matrix_runner", json.dumps(list(job)))
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        row.update(status="TIMEOUT", error=f"no result after {BUILD_TIMEOUT_S} s")
    else:
        lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
        if proc.returncode == 0 and lines:
            return json.loads(lines[-1])
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])[:300]
        code = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        row.update(status=f"CRASH ({code})", error=tail)
    row["time_s"] = round(time.time() - t0, 1)
    return row


if __name__ == "__main__":
    print(json.dumps(build_one(tuple(json.loads(sys.argv[1])))), flush=True)
