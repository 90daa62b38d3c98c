import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "stereo"


def cli(*args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "jpq2hw.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def shipped_stereo_build(tmp_path_factory):
    """One `jpq2hw build` of the flagship examples/stereo/stereo.onnx (io_stream, slow), shared by every test
    that needs it: 100 vectors in all, the real pairs last. Returns (completed process, output folder)."""
    pairs = np.load(EXAMPLE / "test_pairs.npy")
    out = tmp_path_factory.mktemp("shipped_stereo") / "stereo_pynq-z2"
    # random vectors + the real pairs: 100 in all (each costs ~1 s of g++ simulation, twice)
    run = cli("build", "--board", "pynq-z2", EXAMPLE / "stereo.onnx", "-o", out, "-q",
              "--vectors", 100 - len(pairs), "--input-data", EXAMPLE / "test_pairs.npy")
    return run, out
