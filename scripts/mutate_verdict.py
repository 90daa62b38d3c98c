"""Mutation testing of the verdict: break the verification code in each way listed in
tests/testkit/verdict_mutations.py and report which mutations the verdict checks catch. None may survive.

    python scripts/mutate_verdict.py [--out benchmarks/verdict_mutations.md] [--paths io_parallel ...]

Each path's model is built once for real (hls4ml, g++, the C-simulation: tens of seconds each); every check
then reruns only the verdict steps on the saved outputs with one value changed (milliseconds), first with the
real code (every check must pass) and then under each mutation (some check must fail). Exit 1 if a mutation
survives. tests/verdict/test_mutations.py runs the same mutations on its own builds in CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from build import models  # noqa: E402
from build.test_host_split import head_core_tail_model  # noqa: E402
from testkit import verdict, verdict_mutations  # noqa: E402

PATHS = {
    "io_parallel": (models.sparse_mlp, {"io": "parallel", "vectors": 12}),
    "io_stream_float_scales": (models.brevitas_float_conv, {"io": "stream", "vectors": 12}),
    "host_head_tail": (head_core_tail_model, {"vectors": 12}),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "verdict_mutations.md")
    ap.add_argument("--paths", nargs="+", choices=sorted(PATHS), default=sorted(PATHS))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        prepared = []
        for name in args.paths:
            make, options = PATHS[name]
            folder = Path(tmp) / name
            folder.mkdir()
            print(f"building {name} ...", flush=True)
            prepared.append(verdict.prepare(name, make(folder / "m.onnx"), folder / "out", **options))
        t_built = time.perf_counter()
        killed = verdict_mutations.survivors(prepared)
    t_end = time.perf_counter()
    lines = [
        "# Verdict mutations",
        "",
        "Written by `python scripts/mutate_verdict.py`. Each mutation breaks the verification code in one way "
        "(tests/testkit/verdict_mutations.py); it is *killed* when some verdict check then fails on some build. "
        "The checks rerun the verdict on a real build's C-simulation outputs with one value changed: a clean build "
        "must be exact; one hardware value one quantizer step off (first vector, last vector), one reference value "
        "off by one step, a third, a thousandth or 2^-30 of a step (the last for fixed-point outputs only) or NaN, "
        "and a failed AXI-Stream wrapper check must each give NOT bit-exact, exit 1, and count exactly that vector "
        "(and, with a host tail, put the tail outside its tolerance); a host tail 1e-3 off must give exit 1.",
        "",
        f"Paths built: {', '.join(p.name for p in prepared)} ({', '.join(str(len(p.hw)) + ' vectors' for p in prepared)}). "
        f"Builds {t_built - t0:.0f} s, {len(verdict_mutations.MUTATIONS)} mutations x "
        f"{len(verdict_mutations.CHECKS)} checks x {len(prepared)} paths {t_end - t_built:.1f} s.",
        "",
        "| mutation | what it breaks | verdict | checks that fail |",
        "|---|---|---|---|",
    ]
    for m in verdict_mutations.MUTATIONS:
        by = killed[m.name]
        shown = "; ".join(by[:3]) + (f"; ... ({len(by)} in all)" if len(by) > 3 else "")
        lines.append(f"| {m.name} | {m.what} | {'killed' if by else '**SURVIVED**'} | {shown or '-'} |")
    alive = [k for k, v in killed.items() if not v]
    lines += ["", f"Survivors: {len(alive)} of {len(killed)}" + (f" ({', '.join(alive)})" if alive else "") + "."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-1:]), f"report: {args.out}", sep="\n")
    return 1 if alive else 0


if __name__ == "__main__":
    sys.exit(main())
