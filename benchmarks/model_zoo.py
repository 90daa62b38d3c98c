"""jpq2hw beside plain hls4ml on the public QONNX corpus (../shared/corpus: files real exporters wrote, copied byte
for byte from public repositories; provenance in its SOURCES.md). The imitation zoo (tests/testkit/zoo.py) stays
a unit-level test; real-world claims come from this corpus.

For each corpus file (options and expectations from tests/testkit/corpus.py):
- jpq2hw: `jpq2hw build FILE --vectors N [options]`: exit code, bit_exact (of the hardware part), host ops, or the
  one-line refusal; time.
- plain hls4ml, its documented QONNX recipe on the same file (qonnx cleanup -> ConvertToChannelsLastAndClean ->
  GemmToMatMul -> cleanup; config_from_onnx_model(granularity='name', backend='Vitis',
  default_precision='fixed<32,16>'); convert_from_onnx_model(io_parallel, Vitis); compile; predict), fed the
  float input vectors jpq2hw used (OUT/vectors/inputs.npy, in the model's own input layout), compared with the
  whole model in onnxruntime after QuantToQCDQ (float32), or qonnx's execute_onnx where QCDQ leaves Quant nodes
  onnxruntime cannot run (BipolarQuant, > 8 bits). Each attempt runs in a subprocess with a timeout: hls4ml can
  crash or abort.

    python benchmarks/model_zoo.py [--vectors 20] [--only FILE ...] [--timeout 600] [--build-timeout 900] [--keep DIR]

Prints a table and writes it to benchmarks/model_zoo_results.md.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # testkit: the corpus table

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
                      wrong_values=int(np.count_nonzero(err)), values=int(err.size), vectors=len(x),
                      same_argmax=float(np.mean(np.argmax(y, 1) == np.argmax(ref, 1))) if ref.shape[1] > 1 else None)
    except BaseException as exc:  # noqa: BLE001  (report whatever stopped it)
        import traceback

        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" (in {Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno})"
        result.setdefault("converts", False)
        result.update(error=f"{result['stage']}: {type(exc).__name__}: {_one_line(str(exc))}{where}"
                            f"{_compile_diagnosis(out_dir) if result['stage'] == 'compile' else ''}")
    save()


def _compile_diagnosis(out_dir: str) -> str:
    """hls4ml's compile error says only that g++ failed; name the cause when it is a top function without an
    output port (what an Identity left at the graph output gives)."""
    import re

    top = Path(out_dir) / "firmware" / "myproject.cpp"
    if not top.exists():
        return ""
    m = re.search(r"void myproject\((.*?)\)\s*\{", top.read_text(), re.S)
    ports = [p for p in (m.group(1).split(",") if m else []) if p.strip()]
    return "; the generated top function has no output port" if m and len(ports) < 2 else ""


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


def run_jpq2hw(model_path: Path, out: Path, vectors: int, options: tuple[str, ...], timeout: float) -> dict:
    """The command a user runs, in a child process stopped (SIGTERM: jpq2hw cleans up) after `timeout` seconds;
    the report and the one-line refusal are read back."""
    t = time.time()
    cmd = [sys.executable, "-m", "jpq2hw.cli", "build", str(model_path), "-o", str(out), "-q", "--force",
           "--vectors", str(vectors), *options]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.communicate()
        return {"exit": None, "options": list(options), "timeout": round(timeout), "seconds": round(time.time() - t, 1)}
    err = io.StringIO(stderr)
    message = _one_line(err.getvalue(), 300)
    res = {"exit": code, "options": list(options)}
    report = out / "report.json"
    if code in (0, 1, 3) and report.exists():
        r = json.loads(report.read_text())
        res.update(bit_exact=r["bit_exact"], io=r["io_type"], mismatched=r["mismatched_vectors"],
                   max_abs_error=r["max_abs_error"], host_ops=[h["op"] for h in r["host_ops"]],
                   tail_error=r.get("host_tail_max_abs_error"), vectors=r["vectors"],
                   float32_differs=len(r.get("float32_reference_differs") or []))
    elif "internal error" in message or code != 2:
        res["crash"] = message
    else:
        res["refusal"] = message
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
    if "timeout" in r:
        return f"no verdict: stopped after {r['timeout']} s"
    if "refusal" in r:
        return f"exit {r['exit']}, refused"
    if "crash" in r:
        return f"exit {r['exit']}, INTERNAL ERROR"
    verdict = "bit-exact" if r["bit_exact"] else f"NOT exact ({r['mismatched']} vectors, max err {r['max_abs_error']:.3g})"
    return f"exit {r['exit']}, {verdict} ({r['vectors']} vectors)"


def fmt_host_ops(r: dict) -> str:
    ops = r.get("host_ops")
    if ops is None:
        return "-"
    return ", ".join(sorted(set(ops))) or "none"


def fmt_plain(r: dict) -> tuple[str, str, str]:
    """converts? / exact? / wrong outputs"""
    if not r.get("converts"):
        failed_compile = r.get("error", "").startswith("compile:")
        return ("converts, but its C++ does not compile" if failed_compile else "no"), "-", "-"
    if "max_abs_error" not in r:
        return "yes", "? (no reference)", "-"
    exact = "yes" if r["wrong_values"] == 0 else "no"
    wrong = f"{r['wrong_values']} of {r['values']} (max err {r['max_abs_error']:.3g})" if r["wrong_values"] else "0"
    return "yes", exact, wrong


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=20)
    ap.add_argument("--only", nargs="*", default=None, help="corpus file names (default: all)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for plain hls4ml per file")
    ap.add_argument("--build-timeout", type=float, default=900, help="seconds for jpq2hw build per file")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep builds and per-file results in this folder; a rerun with the same folder "
                         "reuses the results it finds there (delete rows/FILE.json to redo one)")
    ap.add_argument("--plain", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--results", type=Path, default=HERE / "model_zoo_results.md")
    args = ap.parse_args(argv)
    if args.plain:
        plain_hls4ml(*args.plain)
        return 0

    from testkit.corpus import CASES, CORPUS_DIR, CorpusCase, corpus_path

    if not CORPUS_DIR.is_dir():
        print(f"model_zoo: the corpus is not at {CORPUS_DIR}", file=sys.stderr)
        return 2
    cases = [c for c in CASES if args.only is None or c.file in args.only]
    commit = _commit()  # what was measured (the checkout may move while the benchmark runs)
    work = args.keep or Path(tempfile.mkdtemp(prefix="jpq2hw_corpus_"))
    rows = []
    for case in cases:
        name, path = case.file, corpus_path(case)
        row_file = work / "rows" / f"{name}.json"
        if row_file.exists():
            jr, pr = json.loads(row_file.read_text())
            if pr.get("error", "").startswith("compile:") and "output port" not in pr["error"]:
                pr["error"] += _compile_diagnosis(str(work / "plain" / name / "hls4ml_prj"))
            rows.append((case, jr, pr))
            print(f"[{name}] reusing {row_file}", file=sys.stderr, flush=True)
            continue
        print(f"[{name}] jpq2hw build {' '.join(case.options)}", file=sys.stderr, flush=True)
        # full-frame image models name a smaller count in the corpus table (minutes of C-simulation per frame)
        n = case.vectors if case.vectors < CorpusCase.vectors else args.vectors
        jr = run_jpq2hw(path, work / "jpq2hw" / name, n, case.options, args.build_timeout)
        print(f"[{name}]   {fmt_jpq(jr)} in {jr['seconds']} s {jr.get('refusal', jr.get('crash', ''))}",
              file=sys.stderr, flush=True)
        x = model_inputs(path, work / "jpq2hw" / name, n)
        print(f"[{name}] plain hls4ml", file=sys.stderr, flush=True)
        pr = run_plain(path, x, work / "plain" / name, args.timeout)
        print(f"[{name}]   converts={pr.get('converts')} {pr.get('error', '')}", file=sys.stderr, flush=True)
        jr["commit"] = commit
        rows.append((case, jr, pr))
        row_file.parent.mkdir(parents=True, exist_ok=True)
        row_file.write_text(json.dumps([jr, pr]))
    table = render(rows, args.vectors)
    print(table)
    if args.only is None:
        args.results.write_text(table)
        print(f"written to {args.results}", file=sys.stderr)
        update_readme(table)
    return 0


README = HERE.parent / "README.md"
TABLE_START, TABLE_END = "<!-- corpus table: benchmarks/model_zoo.py -->", "<!-- end corpus table -->"


def update_readme(table: str) -> None:
    """README's corpus table is this run's table (summary line, table and notes, without the heading)."""
    text = README.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return
    body = table.split("\n", 2)[2].strip()  # drop the heading
    head, rest = text.split(TABLE_START, 1)
    README.write_text(f"{head}{TABLE_START}\n{body}\n{TABLE_END}{rest.split(TABLE_END, 1)[1]}")
    print(f"table copied into {README}", file=sys.stderr)


def machine_load() -> str:
    import os

    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                          text=True).stdout.strip()


def render(rows, vectors: int) -> str:
    from importlib.metadata import version

    commits = sorted({jr.get("commit", "?") for _, jr, _ in rows})
    commit = commits[0] if len(commits) == 1 else f"{', '.join(commits)} (rows reused from --keep)"
    n_exact = sum(1 for _, jr, _ in rows if jr.get("bit_exact") and jr.get("exit") == 0)
    n_crash = sum(1 for _, jr, _ in rows if "crash" in jr)
    n_conv = sum(1 for _, _, pr in rows if pr.get("converts"))
    n_plain_exact = sum(1 for _, _, pr in rows if pr.get("converts") and pr.get("wrong_values") == 0)
    lines = [
        "# Public QONNX corpus: jpq2hw vs plain hls4ml",
        "",
        f"Written by `python benchmarks/model_zoo.py` at commit {commit} (hls4ml {version('hls4ml')}, qonnx "
        f"{version('qonnx')}, {vectors} vectors per file, fewer where the corpus table says so for full-frame image models). Files: `../shared/corpus` (real exporters' output, "
        "provenance in its SOURCES.md); options per file from `tests/testkit/corpus.py`. jpq2hw's verdict is on its "
        "hardware part (float head/tail on the host). Plain hls4ml is its documented QONNX recipe (Vitis, "
        "io_parallel, `fixed<32,16>` default) on the same file and the same float inputs, compared with the whole "
        "model in onnxruntime (QCDQ) or qonnx execution.",
        "",
        f"Machine while measuring: {machine_load()}, shared with other jobs; times are wall-clock.",
        "",
        f"Summary: jpq2hw exact on {n_exact} of {len(rows)} (internal errors: {n_crash}); plain hls4ml converts and runs "
        f"{n_conv} of {len(rows)}, exact on {n_plain_exact}.",
        "",
        "| file | jpq2hw options | jpq2hw | host ops | jpq2hw time (s) | hls4ml converts | hls4ml exact "
        "| hls4ml wrong outputs | hls4ml time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case, jr, pr in rows:
        conv, exact, wrong = fmt_plain(pr)
        opts = f"`{' '.join(case.options)}`" if case.options else "-"
        lines.append(f"| {case.file} | {opts} | {fmt_jpq(jr)} | {fmt_host_ops(jr)} | {jr['seconds']} | {conv} | "
                     f"{exact} | {wrong} | {pr.get('seconds', '-')} |")
    notes = [(c.file, jr) for c, jr, _ in rows if "refusal" in jr or "crash" in jr or not jr.get("bit_exact")]
    if notes:
        lines += ["", "jpq2hw refusals and failures:", ""]
        for n, jr in notes:
            lines.append(f"- {n}: {jr.get('refusal') or jr.get('crash') or fmt_jpq(jr)}")
    fails = [(c.file, pr) for c, _, pr in rows if pr.get("error")]
    if fails:
        lines += ["", "plain hls4ml failures:", ""]
        for n, pr in fails:
            lines.append(f"- {n}: {pr.get('error')}")
    refs = sorted({pr.get("reference") for _, _, pr in rows if pr.get("reference")})
    if refs:
        lines += ["", "References used for plain hls4ml: " + "; ".join(refs) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
