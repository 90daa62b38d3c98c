"""jpq2hw beside plain hls4ml on the model zoo (tests/testkit/zoo.py): the QONNX models people actually have.

For each zoo model:
- jpq2hw: `run_build(..., vectors=N)`: exit code, bit_exact (of the hardware part), or the one-line refusal; time.
- plain hls4ml, its documented QONNX recipe on the same file (qonnx cleanup -> ConvertToChannelsLastAndClean ->
  GemmToMatMul -> cleanup; config_from_onnx_model(granularity='name', backend='Vitis',
  default_precision='fixed<32,16>'); convert_from_onnx_model(io_parallel, Vitis); compile; predict), fed the
  float input vectors jpq2hw used (OUT/vectors/inputs.npy, in the model's own input layout), compared with the
  whole model in onnxruntime after QuantToQCDQ (float32), or qonnx's execute_onnx where QCDQ leaves Quant nodes
  onnxruntime cannot run (BipolarQuant, > 8 bits). Each attempt runs in a subprocess with a timeout: hls4ml can
  crash or abort.

    python benchmarks/model_zoo.py [--vectors 100] [--only NAME ...] [--timeout 600] [--keep DIR]

Prints a table and writes it to benchmarks/model_zoo_results.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # testkit: the model zoo

# --- plain hls4ml (runs in a child process: `python model_zoo.py --plain MODEL INPUTS OUTDIR RESULT.json`) ----------


def plain_hls4ml(model_path: str, inputs_path: str, out_dir: str, result_path: str) -> None:
    result: dict = {"stage": "import"}

    def save():
        Path(result_path).write_text(json.dumps(result))

    save()
    try:
        import hls4ml
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
        from qonnx.transformation.gemm_to_matmul import GemmToMatMul
        from qonnx.util.cleanup import cleanup_model

        x = np.load(inputs_path)
        result["stage"] = "qonnx transforms"
        save()
        model = ModelWrapper(model_path)
        model = cleanup_model(model)
        model = model.transform(ConvertToChannelsLastAndClean())
        model = model.transform(GemmToMatMul())
        model = cleanup_model(model)
        result["stage"] = "config"
        save()
        config = hls4ml.utils.config_from_onnx_model(model, granularity="name", backend="Vitis",
                                                     default_precision="fixed<32,16>")
        result["stage"] = "convert"
        save()
        hls_model = hls4ml.converters.convert_from_onnx_model(model, output_dir=out_dir, io_type="io_parallel",
                                                              backend="Vitis", hls_config=config)
        result["stage"] = "compile"
        save()
        hls_model.compile()
        result["stage"] = "predict"
        save()
        y = np.asarray(hls_model.predict(np.ascontiguousarray(x.astype(np.float32))), dtype=np.float64)
        result.update(converts=True, stage="reference")  # from here on a failure is ours, not hls4ml's
        save()
        ref, ref_kind = reference_outputs(model_path, x)
        result["reference"] = ref_kind
        y = y.reshape(len(x), -1)
        ref = ref.reshape(len(x), -1)
        if y.shape != ref.shape:
            raise RuntimeError(f"output shape {list(y.shape)} != reference {list(ref.shape)}")
        err = np.abs(y - ref)
        result.update(stage="done", converts=True, max_abs_error=float(err.max()),
                      share_exact=float(np.mean(err == 0)), vectors=len(x),
                      same_argmax=float(np.mean(np.argmax(y, 1) == np.argmax(ref, 1))) if ref.shape[1] > 1 else None)
    except BaseException as exc:  # noqa: BLE001  (report whatever stopped it)
        import traceback

        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" (in {Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno})"
        result.setdefault("converts", False)
        result.update(error=f"{result['stage']}: {type(exc).__name__}: {_one_line(str(exc))}{where}")
    save()


def reference_outputs(model_path: str, x: np.ndarray) -> tuple[np.ndarray, str]:
    """The whole model on x: onnxruntime after qonnx cleanup and QuantToQCDQ; where QCDQ leaves Quant nodes
    onnxruntime cannot run (BipolarQuant, > 8 bits) or cleanup breaks the graph, qonnx's execute_onnx on the file
    as it is."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ
    from qonnx.util.cleanup import cleanup_model

    why = ""
    try:
        qcdq = cleanup_model(ModelWrapper(model_path)).transform(QuantToQCDQ())
        left = {n.op_type for n in qcdq.graph.node if n.op_type in ("Quant", "BipolarQuant", "Trunc")}
        if not left:
            import onnxruntime as ort

            sess = ort.InferenceSession(qcdq.model.SerializeToString(), providers=["CPUExecutionProvider"])
            name = qcdq.graph.input[0].name
            outs = [sess.run(None, {name: xi[None].astype(np.float32)})[0] for xi in x]
            return np.concatenate(outs).astype(np.float64), "onnxruntime (QCDQ, float32)"
        why = "/".join(sorted(left)) + " left by QCDQ"
    except Exception as exc:  # noqa: BLE001
        why = f"cleanup/QCDQ failed: {type(exc).__name__}"
    from qonnx.transformation.infer_shapes import InferShapes

    model = ModelWrapper(model_path).transform(InferShapes())
    init = {i.name for i in model.graph.initializer}
    name = next(i.name for i in model.graph.input if i.name not in init)
    outs = [execute_onnx(model, {name: xi[None].astype(np.float32)})[model.graph.output[0].name] for xi in x]
    return np.concatenate(outs).astype(np.float64), f"qonnx execute_onnx ({why})"


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run_plain(model_path: Path, inputs: np.ndarray, work: Path, timeout: float) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / "inputs.npy", inputs)
    result_path = work / "result.json"
    t = time.time()
    try:
        proc = subprocess.run([sys.executable, __file__, "--plain", str(model_path), str(work / "inputs.npy"),
                               str(work / "hls4ml_prj"), str(result_path)],
                              capture_output=True, text=True, timeout=timeout)
        crashed = proc.returncode != 0
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
    except subprocess.TimeoutExpired:
        crashed, tail = True, f"timeout after {timeout:.0f} s"
    res = json.loads(result_path.read_text()) if result_path.exists() else {"stage": "start"}
    if crashed and res.get("stage") != "done":
        res.setdefault("converts", False)
        res["error"] = res.get("error") or f"process died in {res['stage']}: {_one_line(tail)}"
    res["seconds"] = round(time.time() - t, 1)
    return res


# --- jpq2hw ---------------------------------------------------------------------------------------------------


def run_jpq2hw(model_path: Path, out: Path, vectors: int) -> dict:
    from jpq2hw.build import BuildOptions, run_build
    from jpq2hw.errors import JpqError

    t = time.time()
    try:
        code, report = run_build(BuildOptions(model=model_path, out=out, quiet=True, vectors=vectors, force=True))
        res = {"exit": code, "bit_exact": report["bit_exact"], "io": report["io_type"],
               "mismatched": report["mismatched_vectors"], "max_abs_error": report["max_abs_error"],
               "host_ops": [h["op"] for h in report["host_ops"]],
               "tail_error": report.get("host_tail_max_abs_error")}
    except JpqError as exc:
        res = {"exit": exc.exit_code, "refusal": str(exc)}
    except Exception as exc:  # noqa: BLE001  (a crash is a bug to report, not a reason to stop the benchmark)
        res = {"exit": None, "crash": f"{type(exc).__name__}: {_one_line(str(exc), 300)}"}
    res["seconds"] = round(time.time() - t, 1)
    return res


def model_inputs(model_path: Path, out: Path, vectors: int) -> np.ndarray:
    """The float vectors jpq2hw used, in the model file's own input layout (for the plain hls4ml run); if
    jpq2hw refused the model, the same kind of vectors drawn here."""
    import onnx

    m = onnx.load(str(model_path))
    init = {i.name for i in m.graph.initializer}
    inp = next(i for i in m.graph.input if i.name not in init)
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim][1:]
    f = out / "vectors" / "inputs.npy"
    if f.exists():
        x = np.load(f)
        if list(x.shape[1:]) == shape:
            return x
        if len(shape) >= 2 and list(x.shape[1:]) == shape[1:] + shape[:1]:  # channels-last -> the file's NC...
            return np.moveaxis(x, -1, 1)
        if x[0].size == int(np.prod(shape)):
            return x.reshape(len(x), *shape)
    rng = np.random.default_rng(0)
    ann = {a.tensor_name: {p.key: p.value for p in a.quant_parameter_tensor_names}
           for a in m.graph.quantization_annotation}
    dt = ann.get(inp.name, {}).get("finn_datatype")
    if dt:  # an input typed by annotation (e.g. UINT8): integers over its range
        from qonnx.core.datatype import DataType

        t = DataType[dt]
        return rng.integers(int(t.min()), int(t.max()) + 1, size=(vectors, *shape)).astype(np.float64)
    return np.round(rng.uniform(-4, 4, size=(vectors, *shape)) * 16) / 16


def fmt_jpq(r: dict) -> str:
    if "refusal" in r:
        return f"refused (exit {r['exit']})"
    if "crash" in r:
        return "CRASH"
    verdict = "bit-exact" if r["bit_exact"] else f"NOT exact ({r['mismatched']} vectors, max err {r['max_abs_error']:.3g})"
    return f"exit {r['exit']}, {verdict}, {r['io']}"


def fmt_plain(r: dict) -> tuple[str, str, str]:
    if not r.get("converts"):
        return "no", "-", "-"
    if "max_abs_error" not in r:
        return "yes (no reference)", "-", "-"
    return "yes", f"{r['max_abs_error']:.3g}", f"{100 * r['share_exact']:.1f}%"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=100)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep models, builds and per-model results in this folder; a rerun with the same folder "
                         "reuses the results it finds there (delete rows/NAME.json to redo one)")
    ap.add_argument("--plain", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--results", type=Path, default=HERE / "model_zoo_results.md")
    args = ap.parse_args(argv)
    if args.plain:
        plain_hls4ml(*args.plain)
        return 0

    from testkit import zoo

    names = args.only or list(zoo.ZOO)
    work = args.keep or Path(tempfile.mkdtemp(prefix="jpq2hw_zoo_"))
    rows = []
    for name in names:
        row_file = work / "rows" / f"{name}.json"
        if row_file.exists():
            jr, pr = json.loads(row_file.read_text())
            rows.append((name, zoo.ZOO[name][1], jr, pr))
            print(f"[{name}] reusing {row_file}", file=sys.stderr, flush=True)
            continue
        print(f"[{name}] making the model", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the exporters talk
            path = zoo.make(name, work / "models")
        print(f"[{name}] jpq2hw build", file=sys.stderr, flush=True)
        jr = run_jpq2hw(path, work / "jpq2hw" / name, args.vectors)
        print(f"[{name}]   {fmt_jpq(jr)} in {jr['seconds']} s", file=sys.stderr, flush=True)
        x = model_inputs(path, work / "jpq2hw" / name, args.vectors)
        print(f"[{name}] plain hls4ml", file=sys.stderr, flush=True)
        pr = run_plain(path, x, work / "plain" / name, args.timeout)
        print(f"[{name}]   converts={pr.get('converts')} {pr.get('error', '')}", file=sys.stderr, flush=True)
        rows.append((name, zoo.ZOO[name][1], jr, pr))
        row_file.parent.mkdir(parents=True, exist_ok=True)
        row_file.write_text(json.dumps([jr, pr]))
    table = render(rows, args.vectors)
    print(table)
    if args.only is None:
        args.results.write_text(table)
        print(f"written to {args.results}", file=sys.stderr)
    return 0


def render(rows, vectors: int) -> str:
    from importlib.metadata import version

    lines = [
        "# Model zoo: jpq2hw vs plain hls4ml",
        "",
        f"Written by `python benchmarks/model_zoo.py` (hls4ml {version('hls4ml')}, qonnx "
        f"{version('qonnx')}, {vectors} vectors per model, 2 shared CPU cores). Models: "
        "`tests/testkit/zoo.py`. jpq2hw's verdict is on its hardware part (float head/tail on the host); plain "
        "hls4ml is its documented QONNX recipe (Vitis, io_parallel, `fixed<32,16>` default) on the same file and the "
        "same float inputs, compared with the whole model in onnxruntime (QCDQ) or qonnx execution.",
        "",
        "| model | kind | jpq2hw | jpq2hw time (s) | hls4ml converts? | hls4ml max abs error | hls4ml share exact "
        "| hls4ml same argmax |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, kind, jr, pr in rows:
        conv, err, share = fmt_plain(pr)
        am = pr.get("same_argmax")
        lines.append(f"| {name} | {kind} | {fmt_jpq(jr)} | {jr['seconds']} | {conv} | {err} | {share} | "
                     f"{'-' if am is None else f'{100 * am:.0f}%'} |")
    notes = [(n, jr) for n, _, jr, _ in rows if "refusal" in jr or "crash" in jr or not jr.get("bit_exact")]
    if notes:
        lines += ["", "jpq2hw refusals and failures:", ""]
        for n, jr in notes:
            lines.append(f"- {n}: {jr.get('refusal') or jr.get('crash') or fmt_jpq(jr)}")
    fails = [(n, pr) for n, _, _, pr in rows if pr.get("error")]
    if fails:
        lines += ["", "plain hls4ml failures:", ""]
        for n, pr in fails:
            lines.append(f"- {n}: {pr.get('error')}")
    refs = sorted({pr.get("reference") for _, _, _, pr in rows if pr.get("reference")})
    if refs:
        lines += ["", "References used for plain hls4ml: " + "; ".join(refs) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
