"""How long a verified `jpq2hw build` takes beside plain hls4ml's unverified convert + compile + predict, on the
same models and the same input vectors, and where a build's time goes.

    python benchmarks/build_speed.py [--vectors 100] [--reps 2] [--models digits_cnn brevitas_float_mlp stereo]

For each model and repetition, interleaved (the order alternates, so a load change on a shared machine hits both
sides alike), each in a fresh Python process, as a user would run them:
- jpq2hw: `python -m jpq2hw.cli build MODEL --vectors N` (io type from --io auto): verified bit for bit.
- plain hls4ml: its documented QONNX recipe (qonnx cleanup -> ConvertToChannelsLastAndClean -> GemmToMatMul ->
  cleanup; config_from_onnx_model(granularity='name', backend='Vitis'); convert_from_onnx_model with the io type
  jpq2hw chose; compile; predict) on the very vectors jpq2hw checked (OUT/vectors/inputs.npy): unverified.
Wall seconds (and CPU seconds, user + system of the process and its g++ children) are printed per run, the
median per model, the ratio jpq2hw / hls4ml, and jpq2hw's per-step split (report.json timings_s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

def models(work: Path, names: list[str]) -> dict[str, Path]:
    from build import models as test_models  # the test models: made node by node and by Brevitas

    found = {p.stem: p for p in sorted((ROOT / "examples").glob("*/*.onnx"))}
    made = {"brevitas_float_mlp": test_models.brevitas_float_mlp, "sparse_mlp": test_models.sparse_mlp,
            "conv_stack": test_models.conv_stack, "brevitas_conv": test_models.brevitas_conv}
    out = {}
    for name in names:
        out[name] = found[name] if name in found else made[name](work / f"{name}.onnx")
    return out


def timed(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s of the child and its children, the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, run


def plain_hls4ml(model: str, inputs: str, io_type: str, out_dir: str) -> None:
    """Child process: plain hls4ml's QONNX recipe, convert + compile + predict (what `--plain` runs)."""
    import hls4ml
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    x = np.load(inputs)
    m = cleanup_model(ModelWrapper(model))
    m = m.transform(ConvertToChannelsLastAndClean())
    m = m.transform(GemmToMatMul())
    m = cleanup_model(m)
    config = hls4ml.utils.config_from_onnx_model(m, granularity="name", backend="Vitis",
                                                 default_precision="fixed<32,16>")
    hls_model = hls4ml.converters.convert_from_onnx_model(m, output_dir=out_dir, io_type=io_type, backend="Vitis",
                                                          hls_config=config)
    hls_model.compile()
    y = hls_model.predict(np.ascontiguousarray(x.reshape(len(x), -1).astype(np.float32)))
    print(json.dumps({"outputs": int(np.asarray(y).size)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=int, default=100)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["digits_cnn", "brevitas_float_mlp", "stereo"])
    ap.add_argument("--plain", nargs=4, metavar=("MODEL", "INPUTS", "IO", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain:
        plain_hls4ml(*args.plain)
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    print(f"load before: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f} "
          f"(1/5/15 min), {os.cpu_count()} cores", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, path in models(work, args.models).items():
            runs = {"jpq2hw": [], "hls4ml": []}
            report, plain_error = None, None
            for rep in range(args.reps):
                order = ["jpq2hw", "hls4ml"] if rep % 2 == 0 else ["hls4ml", "jpq2hw"]
                for side in order:
                    out = work / f"{name}_{side}_{rep}"
                    if side == "jpq2hw":
                        wall, cpu, run = timed([sys.executable, "-m", "jpq2hw.cli", "build", str(path), "-o", str(out),
                                                "--vectors", str(args.vectors), "-q"], env)
                        if run.returncode != 0:
                            raise SystemExit(f"{name}: jpq2hw build exit {run.returncode}: {run.stderr[-500:]}")
                        report = json.loads((out / "report.json").read_text())
                        # the model's own inputs (hw_inputs.npy holds a float-scale core's integer codes)
                        (work / f"{name}_inputs.npy").write_bytes((out / "vectors" / "inputs.npy").read_bytes())
                    else:
                        if report is None:  # hls4ml needs jpq2hw's vectors and io type: run jpq2hw first
                            continue
                        wall, cpu, run = timed([sys.executable, __file__, "--plain", str(path),
                                                str(work / f"{name}_inputs.npy"), report["io_type"], str(out)], env)
                        if run.returncode != 0:
                            plain_error = (run.stderr.strip().splitlines() or ["?"])[-1][:120]
                            continue
                    runs[side].append((wall, cpu))
                    print(f"  {name:<20} {side:<7} rep {rep}: {wall:7.1f} s wall {cpu:7.1f} s CPU", flush=True)
            rows.append((name, report, runs, plain_error))
    print(f"load after: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    print()
    print(f"{'model':<20}{'io':<9}{'jpq2hw verified':>17}{'hls4ml unverified':>19}{'ratio':>7}   (median wall s; CPU s)")
    for name, report, runs, plain_error in rows:
        j = [statistics.median(v) for v in zip(*runs["jpq2hw"])]
        h = [statistics.median(v) for v in zip(*runs["hls4ml"])] if runs["hls4ml"] else None
        ratio = f"{j[0] / h[0]:.2f}" if h else "-"
        plain = f"{h[0]:8.1f};{h[1]:7.1f}" if h else f"{'fails':>16}"
        print(f"{name:<20}{report['io_type'].replace('io_', ''):<9}{j[0]:8.1f};{j[1]:7.1f}  {plain}  {ratio:>6}"
              + (f"   hls4ml: {plain_error}" if plain_error else ""))
    print()
    print("jpq2hw steps (wall s of the last run; steps under 0.05 s left out):")
    for name, report, _, _ in rows:
        t = report["timings_s"]
        print(f"{name:<20}bit_exact={report['bit_exact']}  "
              + "  ".join(f"{k} {v:.2f}" for k, v in t.items() if v >= 0.05))


if __name__ == "__main__":
    main()
