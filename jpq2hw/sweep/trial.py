"""One trial of a sweep: compress -> build (bit-exact) -> estimate, in the trial's own folder.

    OUT/trials/<trial id>/checkpoints/   compress checkpoints (an interrupted trial resumes its training here)
    OUT/trials/<trial id>/model.onnx     the compressed QONNX
    OUT/trials/<trial id>/build/         the `jpq2hw build` folder (HLS project, vectors, report.*)
    OUT/trials/<trial id>/report.json    the build's report, beside the model
    OUT/trials/<trial id>/trial.json     this trial's record (written last, atomically: it means "finished")

A trial never raises: a failure (bad entry, a layer the build refuses, a crash of the stack) is a record with
status "failed" and the one-line reason; a build that is not bit-exact is status "not_exact" (never on the front).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from pathlib import Path

from jpq2hw.errors import JpqError, printable

RECORD_NAME = "trial.json"
JOURNAL_NAME = "trials.log"  # one line per trial start and end: what ran, and how often


def trial_dir(output: Path, trial_id: str) -> Path:
    return Path(output) / "trials" / trial_id


def read_record(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return None


def write_record(folder: Path, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (RECORD_NAME + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, folder / RECORD_NAME)  # atomic: a record is whole or absent


def journal(output: Path, line: str) -> None:
    with open(Path(output) / JOURNAL_NAME, "a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {printable(line)}\n")


def one_line(exc: BaseException) -> str:
    """A failure as one line: our own errors as they are, anything else with its type and where it happened."""
    if isinstance(exc, JpqError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"stopped by sys.exit({exc.code!r}) in code the trial ran"
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {os.path.basename(where.filename)}:{where.lineno})" if where else ""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return printable(f"{type(exc).__name__}: {first}{at}")


def budget_epochs(config) -> int:
    """Training epochs the config's plan runs (pretraining included): what 'equal budget' compares."""
    from jpq2hw.compress.pipeline import make_plan

    return sum(step.epochs for step in make_plan(config))


def run_trial(spec, point: dict, trial_id: str, node: str | None = None) -> dict:
    """Run one trial (or return its record if it already finished) and return the record."""
    folder = trial_dir(spec.output, trial_id)
    done = read_record(folder)
    if done is not None and done.get("point") == point and not done.get("ray_error"):
        # finished, but the sweep was stopped before Ray Tune saved that: never run twice
        journal(spec.output, f"{trial_id} reused (finished before the sweep was stopped)")
        return done
    folder.mkdir(parents=True, exist_ok=True)
    journal(spec.output, f"{trial_id} start {json.dumps(point, sort_keys=True, default=str)}")
    record = {"trial_id": trial_id, "point": point, "status": "failed", "reason": None, "node": node,
              "folder": str(folder), "seconds": {}}
    try:
        record.update(_compress_build(spec, point, folder, record["seconds"]))
    except BaseException as exc:  # noqa: BLE001: a trial's failure is data, whatever it is (KeyboardInterrupt aside)
        if isinstance(exc, KeyboardInterrupt):
            raise
        record["status"], record["reason"] = "failed", one_line(exc)
    write_record(folder, record)
    journal(spec.output, f"{trial_id} {record['status']}" + (f": {record['reason']}" if record["reason"] else ""))
    return record


def _compress_build(spec, point: dict, folder: Path, seconds: dict) -> dict:
    import torch

    import jpq2hw
    from jpq2hw.entry import load_entry, unpack_entry
    from jpq2hw.compress import compress, to_qonnx
    from jpq2hw.compress.metrics import model_metrics
    from jpq2hw.sweep.spec import compress_config

    torch.set_num_threads(max(1, int(spec.cpus_per_trial)))
    config = compress_config(spec, point, checkpoint_dir=str(folder / "checkpoints"))
    start = time.perf_counter()
    make = load_entry(spec.entry, spec.base_dir)
    try:
        parts = unpack_entry(make(), spec.entry)
    except JpqError:
        raise
    except Exception as exc:
        raise JpqError(f"entry: your entry {spec.entry} raised: {one_line(exc)}") from None
    example = parts.get("example_input")
    if example is None:
        example = next(iter(parts["train_loader"]))[0][:1]
    qmodel, history = compress(parts["model"], parts["train_loader"], parts["val_fn"], config,
                               loss_fn=parts.get("loss_fn"))
    model_path = folder / "model.onnx"
    to_qonnx(qmodel, example, model_path)
    seconds["compress"] = round(time.perf_counter() - start, 1)
    metric = history[-1]["val"] if history else None
    pretrained = [h["val"] for h in history if h["stage"] == "pretrain"]
    torch_metrics = model_metrics(qmodel, example)

    start = time.perf_counter()
    report = jpq2hw.build(model_path, out=folder / "build", force=True, quiet=True, **spec.build)
    seconds["build"] = round(time.perf_counter() - start, 1)
    shutil.copyfile(folder / "build" / "report.json", folder / "report.json")

    est = report.get("estimate") or {}
    result = {
        "metric": metric,
        "float_metric": pretrained[-1] if pretrained else None,
        "sparsity": report["totals"]["sparsity"],
        "weight_memory_bits": report["totals"]["weight_memory_bits"],
        "bops": report["totals"]["bops"],
        "lut": (est.get("totals") or {}).get("lut"),
        "yosys_lut": _yosys_lut(report),
        "fit": (est.get("board") or {}).get("fit"),
        "budget_epochs": budget_epochs(config),
        "torch_sparsity": torch_metrics.get("sparsity"),
        "bit_exact": report["bit_exact"],
        "vectors": report["vectors"],
        "model": str(model_path),
        "report": str(folder / "report.json"),
    }
    if not report["bit_exact"]:
        layer = report.get("first_divergent_layer")
        result["status"] = "not_exact"
        result["reason"] = (f"build not bit-exact: {report['mismatched_vectors']} of {report['vectors']} vectors "
                            f"differ" + (f", first divergent layer {layer}" if layer else ""))
    elif report.get("failed_steps"):
        result["status"] = "ok"
        result["reason"] = "bit-exact, but late step(s) failed: " + ", ".join(
            f"{s.get('step')}" for s in report["failed_steps"])
    else:
        result["status"] = "ok"
    return result


def _yosys_lut(report: dict) -> int | None:
    from jpq2hw.report.build_report import yosys_beside_estimate

    y = yosys_beside_estimate(report)
    rows = {r["quantity"]: r["yosys"] for r in (y or {}).get("rows", [])}
    return rows.get("LUT")
