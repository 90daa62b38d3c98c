"""Helpers of the sweep tests: the tiny spec, running `jpq2hw sweep` in a child process (Ray keeps state per
process), the trial journal, and starting/stopping a Ray cluster's processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from testkit import REPO

ENTRY = str(Path(__file__).with_name("tiny_entry.py")) + ":make"
# a test cluster on localhost: no token authentication (Ray's own switch, for the head, the worker and the driver)
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def tiny_spec(folder: Path, grid: dict, **extra) -> Path:
    """A sweep of the tiny MLP: seconds of training per trial and one short g++ build (4 vectors)."""
    data = {"entry": ENTRY, "output": "out",
            "compress": {"pretrain_epochs": 2, "prune_steps": 1, "epochs_per_step": 1, "qat_epochs": 1,
                         "score_batches": 2, "calibration_batches": 2, "target_sparsity": 0.5, "lr": 0.01},
            "grid": grid, "build": {"vectors": 4}, **extra}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def child_env() -> dict:
    env = {**os.environ, **RAY_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def sweep_command(spec: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "jpq2hw.cli", "sweep", str(spec), *args]


def run_sweep(spec: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(sweep_command(spec, *args), env=child_env(), capture_output=True, text=True,
                          timeout=timeout)


def journal(out: Path) -> list[list[str]]:
    """OUT/trials.log as [time, trial id, event, ...] rows."""
    path = out / "trials.log"
    return [line.split(" ", 3) for line in path.read_text().splitlines()] if path.exists() else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_status(address: str, env: dict) -> str:
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    done = subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True, text=True,
                          timeout=60)
    return done.stdout if done.returncode == 0 else ""


def stop_groups(procs: list[subprocess.Popen]) -> None:
    """Each `ray start --block` leads its own process group (raylet, GCS, workers): stop the groups we started."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 8
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # what did not stop in time
        except ProcessLookupError:
            pass


def wait_until(ready, procs, temp, what, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        if ready():
            return
        time.sleep(2)
    log = (Path(temp) / "ray-start.log").read_text()[-2000:]
    raise RuntimeError(f"Ray cluster: {what} did not come up:\n{log}")
