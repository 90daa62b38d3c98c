"""`jpq2hw sweep` end to end on Ray: a tiny sweep locally, the same YAML on a two-node cluster on localhost, and a
sweep killed midway then resumed. Each trial compresses a tiny MLP and builds it bit-exact (one short g++ build)."""

import json
import os
import signal
import subprocess
import time

import pytest

from sweep_helpers import child_env, journal, run_sweep, sweep_command, tiny_spec

pytestmark = pytest.mark.slow

# joint vs PTQ, and a per-layer bit width naming a layer the model does not have: that trial must fail, alone
GRID = {"method": ["joint", "ptq"], "layer_bits": [{}, {"no_such_layer": {"weight": 8}}]}


def check_tiny_sweep(out, done):
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "sweep.json").read_text())
    trials = summary["trials"]
    assert len(trials) == 4 and summary["counts"] == {"ok": 2, "not_exact": 0, "failed": 2}
    for t in trials:
        folder = out / "trials" / t["trial_id"]
        if t["point"]["layer_bits"]:
            assert t["status"] == "failed" and "no_such_layer" in t["reason"] and "\n" not in t["reason"]
            continue
        assert t["status"] == "ok" and 0 < t["metric"] <= 1 and t["lut"] > 0 and t["bops"] > 0
        report = json.loads((folder / "report.json").read_text())
        assert report["bit_exact"] is True and report["vectors"] == 4
        assert (folder / "model.onnx").is_file() and (folder / "build" / "hls").is_dir()
        assert t["weight_memory_bits"] == report["totals"]["weight_memory_bits"]
    front = summary["front"]
    assert front and all((out / "front" / f"{tid}.onnx").read_bytes() ==
                         (out / "trials" / tid / "model.onnx").read_bytes() for tid in front)
    html = (out / "front.html").read_text()
    assert all(tid in html for tid in front) and "method compared at equal budget" in html
    return trials


def test_tiny_sweep_local(tmp_path):
    spec = tiny_spec(tmp_path, GRID, max_concurrent=2)
    done = run_sweep(spec)
    trials = check_tiny_sweep(tmp_path / "out", done)
    assert "Ray: local, 1 node(s)" in done.stderr
    starts = [row for row in journal(tmp_path / "out") if row[2] == "start"]
    assert len(starts) == 4
    # a rerun of a finished sweep restores it and runs nothing again
    again = run_sweep(spec)
    assert again.returncode == 0 and "resuming" in again.stderr
    assert len([row for row in journal(tmp_path / "out") if row[2] == "start"]) == 4
    assert len(json.loads((tmp_path / "out" / "sweep.json").read_text())["trials"]) == len(trials)


def test_same_yaml_on_a_two_node_cluster(tmp_path, ray_cluster):
    spec = tiny_spec(tmp_path, GRID, max_concurrent=2)
    done = run_sweep(spec, "--address", ray_cluster)
    trials = check_tiny_sweep(tmp_path / "out", done)
    assert "2 node(s), 2 CPU(s)" in done.stderr
    # one CPU per node and two trials at a time: the trials ran on both nodes
    assert len({t["node"] for t in trials if t.get("node")}) == 2


def test_killed_sweep_resumes_without_repeating_a_finished_trial(tmp_path, ray_cluster):
    # NSGA-II (Optuna through Ray Tune): its sampler's state is restored along with the trials
    spec = tiny_spec(tmp_path, {"weight_bits": [4, 3, 2]}, max_concurrent=1,
                     search={"sampler": "nsga2", "trials": 2, "seed": 0})
    out = tmp_path / "out"
    driver = subprocess.Popen(sweep_command(spec, "--address", ray_cluster), env=child_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:  # kill the driver (SIGKILL: no cleanup at all) once the first trial has finished
        deadline = time.monotonic() + 400
        while not any(row[2] == "ok" for row in journal(out)) and time.monotonic() < deadline:
            assert driver.poll() is None, "the sweep ended before it could be killed"
            time.sleep(1)
        assert any(row[2] == "ok" for row in journal(out)), "no trial finished in time"
        time.sleep(6)  # past Tune's state-save period (TUNE_GLOBAL_CHECKPOINT_S=5)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finished = [row[1] for row in journal(out) if row[2] == "ok"]
    assert len(finished) == 1, "the sweep finished before it was killed: nothing to resume"

    done = run_sweep(spec, "--address", ray_cluster)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming the sweep from Ray Tune's experiment state" in done.stderr
    summary = json.loads((out / "sweep.json").read_text())
    assert len(summary["trials"]) == 2 and summary["counts"]["ok"] == 2
    assert {t["trial_id"] for t in summary["trials"]} >= set(finished)  # the same trials, restored
    starts = [row[1] for row in journal(out) if row[2] == "start"]
    for trial_id in finished:
        assert starts.count(trial_id) == 1, f"finished trial {trial_id} ran again"
    # Tune's own saved state knew it (the trial.json backstop, for a kill within the state-save period, was unused)
    assert not [row for row in journal(out) if row[2] == "reused"]
    assert len(json.loads((out / "runs.json").read_text())) == 1  # the killed run wrote nothing; this one did
