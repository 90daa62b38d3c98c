"""`jpq2hw sweep SWEEP.yaml`: compress -> build (bit-exact) -> estimate over a grid (or Optuna's NSGA-II), on Ray
Tune, locally or on a cluster (--address); writes the Pareto front (front.md, front.html, sweep.json, front/).
The spec's format is in jpq2hw/sweep/spec.py; the trial's folder in jpq2hw/sweep/trial.py."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from jpq2hw.errors import EXIT_NOT_EXACT, JpqError, printable
from jpq2hw.progress import Progress

STATE_NAME = "sweep-spec.json"  # in OUT: which spec this folder belongs to (a rerun resumes only the same one)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="sweep sparsity/bits/methods (compress -> bit-exact build -> estimate) on Ray; Pareto front",
        description="Run one trial per point of SWEEP.yaml's grid (or Optuna's NSGA-II over it) on Ray Tune: "
        "compress, build bit-exact, estimate; write the Pareto front of the task metric against weight memory, "
        "BOPs and LUTs (OUT/front.html, front.md, sweep.json, the front's models in OUT/front/) and the methods "
        "compared at equal budget. A failed trial is recorded with its reason. Rerunning the same command resumes "
        "from Ray Tune's experiment state: finished trials are not run again. Exit 0: every trial finished; "
        "1: the sweep stopped early or no trial was bit-exact; 2: bad input. The spec's entry is Python code "
        "run with your permissions, as for `jpq2hw compress`.")
    p.add_argument("spec", help="SWEEP.yaml: entry, output, compress, grid, search, metric, objectives, build")
    p.add_argument("--address", help="a running Ray cluster (e.g. 10.0.0.5:6379); default: a local Ray on this "
                   "machine. Every node must see the output folder at the same path")
    p.add_argument("-o", "--output", help="the sweep's folder (overrides the spec's output)")
    p.add_argument("--max-concurrent", type=int, help="trials at a time (overrides the spec's max_concurrent)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args) -> int:
    from jpq2hw.extras import require_extra

    require_extra("sweep", "jpq2hw sweep")  # before the spec is read or Ray started
    require_extra("compress", "jpq2hw sweep")
    from jpq2hw.output_folder import build_lock
    from jpq2hw.sweep.pages import write_pages
    from jpq2hw.sweep.spec import load_spec
    from jpq2hw.sweep.trial import read_record, trial_dir
    from jpq2hw.sweep.tune import check_address, ray_errors, result_trial_ids, run_tune

    spec = load_spec(args.spec)
    if args.output:
        spec.output = Path(args.output).resolve()
    if args.max_concurrent is not None:
        if args.max_concurrent < 1:
            raise JpqError(f"--max-concurrent {args.max_concurrent}: must be >= 1")
        spec.max_concurrent = args.max_concurrent
    check_address(args.address)  # before the output folder is claimed
    progress = Progress(quiet=args.quiet)
    try:
        spec.output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JpqError(f"output {spec.output}: cannot create its parent folder ({exc.strerror})") from None
    with build_lock(spec.output):
        _claim_output(spec)
        start = time.perf_counter()
        load_start = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        progress.info(f"sweep {spec.source}: {_size(spec)} trials, sampler {spec.sampler}, output {spec.output}")
        results = run_tune(spec, args.address, progress)
        ray_errors(spec, results)
        wall = time.perf_counter() - start
        # this experiment's trials only (a folder left by a trial of an experiment that never saved its state is not)
        records = [r for r in (read_record(trial_dir(spec.output, i)) for i in result_trial_ids(results)) if r]
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        runs = _log_run(spec, wall, load_start, load, args.address, len(records))
        ctx = write_pages(spec, records, runs=runs)
    counts = ctx["counts"]
    progress.info(f"{len(records)} trials: {counts['ok']} bit-exact, {counts['not_exact']} not bit-exact, "
                  f"{counts['failed']} failed; {len(ctx['front'])} on the Pareto front ({wall:.0f} s, load {load})")
    print(printable(spec.output / "front.html"))
    if len(records) < _size(spec):
        progress.warn(f"jpq2hw sweep: stopped with {len(records)} of {_size(spec)} trials finished; run the same "
                      f"command again to resume")
        return EXIT_NOT_EXACT
    if not counts["ok"]:
        progress.warn("jpq2hw sweep: no trial was bit-exact; the reasons are in front.md")
        return EXIT_NOT_EXACT
    return 0


def _log_run(spec, wall: float, load_start: str, load_end: str, address, finished: int) -> list[dict]:
    """Append this run to OUT/runs.json (a resumed sweep has several) and return them all."""
    path = spec.output / "runs.json"
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError):
        runs = []
    runs.append({"ended": time.strftime("%Y-%m-%dT%H:%M:%S"), "wall_s": round(wall, 1), "load_start": load_start,
                 "load_end": load_end, "cpus": os.cpu_count(), "address": address or "local",
                 "max_concurrent": spec.max_concurrent, "trials_finished": finished})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(runs, indent=1))
    os.replace(tmp, path)
    return runs


def _size(spec) -> int:
    return spec.trials if spec.sampler == "nsga2" else len(spec.combinations())


def _claim_output(spec) -> None:
    """OUT is new (claimed for this spec), or holds a sweep of this same spec (resumed). Anything else is refused:
    an existing folder is never mixed with another sweep or written over."""
    out = spec.output
    state = out / STATE_NAME
    if out.exists():
        if not out.is_dir():
            raise JpqError(f"output {out}: exists and is not a folder")
        if state.is_file():
            try:
                held = json.loads(state.read_text()).get("fingerprint")
            except (OSError, ValueError):
                held = None
            if held != spec.fingerprint():
                raise JpqError(f"output {out}: holds a sweep of a different spec ({state}); give another output "
                               f"(-o) or delete that folder to start over")
            return
        if any(out.iterdir()):
            raise JpqError(f"output {out}: exists and is not a sweep's folder; give another output (-o)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"fingerprint": spec.fingerprint(), "spec": spec.to_dict()}, indent=1,
                                    default=str))
    except OSError as exc:
        raise JpqError(f"output {out}: cannot write there ({exc.strerror})") from None
