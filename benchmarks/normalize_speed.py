"""Normalization time against frame size, with jpq2hw's shape rules (after) and with qonnx's own tensor-building
shape methods for its channels-last ops (before), and whether the two give the same graphs.

    python benchmarks/normalize_speed.py [--sides 32 64 128 256 512] [--before-timeout 600] [--out FILE.md]

Models: the corpus's ESPCN (NCHW Brevitas export) and separable-conv file (qonnx channels-last export), both fully
convolutional, re-declared at each square frame (tests/testkit/frames.py); the stereo examples at their own frame
(their cost volume's slices are written for it). Each run is a fresh Python process timing
`jpq2hw.normalize.passes.normalize` alone (wall seconds); "before" runs stop at --before-timeout and print "> T".
"same" compares the normalized reference and hardware graphs byte for byte (sha256) where both finished.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def child(path: str, input_type: str | None, mode: str) -> None:
    sys.path.insert(0, str(ROOT))
    from jpq2hw import extensions
    from jpq2hw.frontend.input_type import parse_input_type
    from jpq2hw.frontend.load import load_model
    from jpq2hw.normalize import passes, frame_free

    extensions.register_all()
    model = load_model(path)
    declared = parse_input_type(input_type) if input_type else None
    own = frame_free.qonnx_own_methods() if mode == "before" else contextlib.nullcontext()
    with own:
        start = time.perf_counter()
        n = passes.normalize(model, path, input_type=declared)
        seconds = time.perf_counter() - start
    digest = hashlib.sha256(n.reference.model.SerializeToString() + n.hardware.model.SerializeToString()).hexdigest()
    print(json.dumps({"seconds": seconds, "digest": digest}))


def run(path: Path, input_type: str | None, mode: str, timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--child", str(path), input_type or "-", mode]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"{path.name} ({mode}) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], None if sys.argv[3] == "-" else sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sides", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    ap.add_argument("--before-timeout", type=float, default=600)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args()

    import onnx
    from testkit.corpus import CORPUS_DIR
    from testkit.frames import at_frame

    work = Path(tempfile.mkdtemp(prefix="normalize_speed_"))
    cases = []
    for name, input_type in (("brevitas_espcn_depthtospace_w4a4", "uint8*1/255"),
                             ("brevitas_sepconv_chlast_perchannel_w8a8", None)):
        source = CORPUS_DIR / f"{name}.onnx"
        if not source.exists():
            print(f"skipped {name}: {source} is absent")
            continue
        for side in args.sides:
            path = work / f"{name}_{side}.onnx"
            onnx.save(at_frame(onnx.load(str(source)), side, side), str(path))
            cases.append((name, f"{name} at {side}x{side}", path, input_type))
    for name in ("stereo", "scenenet"):
        path = ROOT / f"examples/stereo/{name}.onnx"
        dims = [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
        cases.append((name, f"examples/stereo/{name}.onnx at {dims[2]}x{dims[3]}", path, None))

    load = os.getloadavg()
    lines = [f"Normalization time (`python benchmarks/normalize_speed.py`), wall seconds, one fresh process per "
             f"run, {os.cpu_count()} cores; load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
             f"(1/5/15 min). before: qonnx's own methods (shape inference and constant folding over "
             f"full-size tensors); after: jpq2hw's replacements (jpq2hw/normalize/frame_free.py).", "",
             "| model | before (s) | after (s) | same graphs |", "|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    timed_out = set()  # once a model's frame times out before, its larger frames would too
    for name, label, path, input_type in cases:
        after = run(path, input_type, "after", timeout=3600)
        skipped = name in timed_out
        before = None if skipped else run(path, input_type, "before", args.before_timeout)
        if before is None:
            timed_out.add(name)
        same = "-" if before is None else ("yes" if before["digest"] == after["digest"] else "NO")
        if before is not None:
            b = f"{before['seconds']:.1f}"
        elif skipped:
            b = "not run (a smaller frame took longer than the timeout)"
        else:
            b = f"> {args.before_timeout:.0f} (stopped)"
        row = f"| {label} | {b} | {after['seconds']:.1f} | {same} |"
        lines.append(row)
        print(row, flush=True)
    lines += ["", "Whole `jpq2hw build` of the corpus files it refuses (wall seconds to the one-line refusal, "
                  "current code):", "", "| file | exit | seconds | message |", "|---|---|---|---|"]
    print("\n".join(lines[-5:]), flush=True)
    for name in ("brevitas_branched_chlast_w4a4", "brevitas_tiny_unet_chlast_w4a4"):
        source = CORPUS_DIR / f"{name}.onnx"
        if not source.exists():
            continue
        cmd = [sys.executable, "-m", "jpq2hw.cli", "build", str(source), "-o", str(work / f"{name}_out"), "-q"]
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        seconds = time.perf_counter() - start
        message = (done.stderr.strip().splitlines() or [""])[-1].replace(str(CORPUS_DIR) + "/", "")
        lines.append(f"| {name}.onnx | {done.returncode} | {seconds:.1f} | {message} |")
        print(lines[-1], flush=True)
    load = os.getloadavg()
    lines += ["", f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}."]
    print(lines[-1])
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
