"""`jpq2hw report` estimates a stereo model: it registers the stereo layers as the build does (before, it refused
the cost volume's Slice as 'cannot be mapped to hardware')."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_report_reads_the_stereo_flagship():
    run = subprocess.run([sys.executable, "-m", "jpq2hw.cli", "report", str(ROOT / "examples" / "stereo" / "stereo.onnx"),
                          "--board", "pynq-z2", "--io", "stream"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "Hardware estimate" in run.stdout and "| Conv_" in run.stdout
