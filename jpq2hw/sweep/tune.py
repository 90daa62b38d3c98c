"""The sweep on Ray Tune: a local Ray on this machine by default, or the cluster at `address`.

Ray Tune owns the scheduling, the trial ids and the experiment state (OUT/ray/tune/). A rerun of the same
SWEEP.yaml restores that state: finished trials are kept, unfinished ones run again (their compress resumes from
its checkpoints); on top of that a trial whose trial.json exists returns it instead of running twice. On a cluster
every node must see OUT at the same path (one machine, or a shared file system)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path

from jpq2hw.errors import JpqError, printable

EXPERIMENT = "tune"


def experiment_dir(spec) -> Path:
    return Path(spec.output) / "ray" / EXPERIMENT


def param_space(spec) -> dict:
    from ray import tune

    if spec.sampler == "grid":
        return {k: tune.grid_search(v) for k, v in spec.grid.items()}
    return {k: tune.choice(v) for k, v in spec.grid.items()}


def search_alg(spec):
    """Optuna's NSGA-II through Ray Tune (multi-objective: every objective, each with its direction)."""
    if spec.sampler != "nsga2":
        return None
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    metrics = [spec.metric_name if o == "metric" else o for o in spec.objectives]
    modes = [spec.metric_mode if o == "metric" else "min" for o in spec.objectives]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return OptunaSearch(metric=metrics, mode=modes, sampler=optuna.samplers.NSGAIISampler(seed=spec.seed))


def _trainable(config: dict, spec_data: dict) -> None:
    """Runs on a Ray worker: one trial, reported once (its objectives, or only its status when it failed)."""
    import ray
    from ray import tune

    from jpq2hw.sweep.spec import spec_from_dict
    from jpq2hw.sweep.trial import run_trial

    spec = spec_from_dict(spec_data)
    trial_id = tune.get_context().get_trial_id()
    record = run_trial(spec, dict(config), trial_id, node=ray.get_runtime_context().get_node_id())
    report = {"status": record["status"], "reason": record.get("reason") or ""}
    if record["status"] == "ok":
        for o in spec.objectives:
            report[spec.metric_name if o == "metric" else o] = record.get(o)
    tune.report(report)


def _make_callback(metric_name: str, quiet: bool):
    from ray.tune import Callback

    class _Lines(Callback):
        def __init__(self):
            self.metric_name, self.quiet = metric_name, quiet

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if self.quiet:
                return
            status = result.get("status")
            if status == "ok":
                value = result.get(self.metric_name)
                shown = f"{value:.4g}" if isinstance(value, float) else value
                print(printable(f"  trial {trial.trial_id} {_point(trial.config)}: {self.metric_name} {shown}"),
                      file=sys.stderr, flush=True)
            else:
                print(printable(f"  trial {trial.trial_id} {_point(trial.config)}: {status}: {result.get('reason')}"),
                      file=sys.stderr, flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            print(printable(f"  trial {trial.trial_id} {_point(trial.config)}: Ray error "
                            f"(recorded as failed)"), file=sys.stderr, flush=True)

    return _Lines()


def _point(config: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def check_address(address: str | None) -> None:
    """A cluster address that nothing answers at fails in one line now (ray.init would retry for minutes)."""
    import socket

    if address is None or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise JpqError(f"--address {address}: expected HOST:PORT (the head's `ray start --head --port PORT`)")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise JpqError(f"--address {address}: no Ray head answers there ({exc.strerror or exc})") from None


def run_tune(spec, address: str | None, progress) -> list:
    """Run (or resume) the sweep; returns Ray's results (one per trial)."""
    import ray
    from ray import tune

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no tensorboard/csv logs per trial
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "5")  # trials take minutes: keep the saved state fresh
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 configure_logging=True)
    except Exception as exc:  # ConnectionError, a bad address...: one line, nothing run
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JpqError(f"--address: cannot connect to {where}: {first}" if address
                       else f"cannot start {where}: {first}") from None
    for signum, handler in handlers.items():  # ray.init replaces them with a sys.exit: keep the CLI's own cleanup
        signal.signal(signum, handler)
    try:
        cpus = ray.cluster_resources().get("CPU", 0)
        nodes = len([n for n in ray.nodes() if n.get("Alive")])
        progress.info(f"Ray: {'cluster at ' + address if address else 'local'}, {nodes} node(s), {cpus:g} CPU(s)")
        if cpus < spec.cpus_per_trial:
            raise JpqError(f"{spec.source}: cpus_per_trial {spec.cpus_per_trial:g} is more than the {cpus:g} CPU(s) "
                           f"Ray has")
        trainable = tune.with_resources(tune.with_parameters(_trainable, spec_data=spec_to_data(spec)),
                                        {"cpu": spec.cpus_per_trial})
        path = experiment_dir(spec)
        if tune.Tuner.can_restore(str(path)):
            progress.info(f"resuming the sweep from Ray Tune's experiment state in {path}")
            tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True,
                                       restart_errored=True, param_space=param_space(spec))
        else:
            tuner = tune.Tuner(
                trainable, param_space=param_space(spec),
                tune_config=tune.TuneConfig(num_samples=spec.trials if spec.sampler == "nsga2" else 1,
                                            search_alg=search_alg(spec),
                                            max_concurrent_trials=spec.max_concurrent,
                                            reuse_actors=False),
                run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(path.parent), verbose=0,
                                          callbacks=[_make_callback(spec.metric_name, progress.quiet)],
                                          failure_config=tune.FailureConfig(max_failures=0, fail_fast=False)))
        grid = tuner.fit()
        return [grid[i] for i in range(len(grid))]
    finally:
        ray.shutdown()


def ray_errors(spec, results: list) -> list[dict]:
    """Records for trials Ray itself lost (a worker that died, a node that left): failed, with the first line."""
    from jpq2hw.sweep.trial import read_record, trial_dir, write_record

    records = []
    for result in results:
        if result.error is None:
            continue
        trial_id = (result.metrics or {}).get("trial_id") or _trial_id_from_path(result.path)
        if trial_id is None or read_record(trial_dir(spec.output, trial_id)) is not None:
            continue
        first = str(result.error).strip().splitlines()
        record = {"trial_id": trial_id, "point": {k: (result.config or {}).get(k) for k in spec.grid},
                  "status": "failed", "reason": printable(f"Ray: {first[0] if first else type(result.error).__name__}"),
                  "seconds": {}, "ray_error": True}  # Ray lost it: a resumed sweep runs it again
        write_record(trial_dir(spec.output, trial_id), record)
        records.append(record)
    return records


def result_trial_ids(results: list) -> list[str]:
    ids = [(r.metrics or {}).get("trial_id") or _trial_id_from_path(r.path) for r in results]
    return [i for i in ids if i]


def _trial_id_from_path(path) -> str | None:
    import re

    m = re.search(r"_([0-9a-f]{5}_\d{5})(_|$)", os.path.basename(str(path or "")))
    return m.group(1) if m else None


def spec_to_data(spec) -> dict:
    return json.loads(json.dumps(spec.to_dict(), default=str))
