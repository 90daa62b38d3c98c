"""One two-node Ray cluster on localhost (a head and a worker, 1 CPU each), shared by the sweep tests: Ray's
start-up is the slow part."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sweep_helpers import RAY_ENV, free_port, ray_status, stop_groups, wait_until


@pytest.fixture(scope="session")
def ray_cluster():
    """'127.0.0.1:PORT' of a running two-node cluster (head + worker on this machine, 1 CPU each)."""
    pytest.importorskip("ray")
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray is None:
        pytest.skip("the `ray` command is not installed")
    temp = tempfile.mkdtemp(prefix="jr", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, **RAY_ENV}
    address = f"127.0.0.1:{free_port()}"
    procs = []
    logs = open(Path(temp) / "ray-start.log", "w")
    try:
        procs.append(subprocess.Popen([ray, "start", "--head", f"--port={address.split(':')[1]}", "--num-cpus=1",
                                       "--include-dashboard=false", f"--temp-dir={temp}", "--block"],
                                      env=env, stdout=logs, stderr=logs, start_new_session=True))
        wait_until(lambda: "Active" in ray_status(address, env), procs, temp, "the head")
        procs.append(subprocess.Popen([ray, "start", f"--address={address}", "--num-cpus=1", "--block"],
                                      env=env, stdout=logs, stderr=logs, start_new_session=True))
        wait_until(lambda: ray_status(address, env).count("node_") >= 2, procs, temp, "the worker")
        yield address
    finally:
        stop_groups(procs)
        logs.close()
        shutil.rmtree(temp, ignore_errors=True)
