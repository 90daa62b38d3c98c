"""Every command on the flagship, examples/stereo/stereo.onnx: `build` (the shared build of conftest.py, checked
bit-exact by test_stereo_build.py), `report` (the build's own front half: it accepts the model the build
accepts and finds the same layers), `rtl` (refuses the custom layers by name, leaves the build as it was),
`boards`, `synth --dry-run`. (`compress` trains a network for minutes: tests/stereo/test_stereo_build.py
compresses and builds a tiny stereo net instead.)"""

import json

import pytest

from stereo.conftest import EXAMPLE, cli


@pytest.mark.slow
def test_report_agrees_with_the_build(shipped_stereo_build, tmp_path):
    _, out = shipped_stereo_build
    built = json.loads((out / "report.json").read_text())
    run = cli("report", EXAMPLE / "stereo.onnx", "--io", "stream", "-o", tmp_path / "r", timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| Conv_0 |" in run.stdout
    estimated = json.loads((tmp_path / "r" / "report.json").read_text())
    # the same analysis of the same hardware graph, accumulator widths included (one value-range analysis), so the
    # same LUT/FF/DSP/BRAM per layer and in total
    assert estimated["layers"] == built["layers"] and all(row["accum_bits"] for row in built["layers"])
    assert estimated["totals"] == built["totals"] and estimated["input_type"] == built["input_type"]
    assert estimated["estimate"]["layers"] == built["estimate"]["layers"]
    assert estimated["estimate"]["totals"] == built["estimate"]["totals"]


@pytest.mark.slow
def test_rtl_refuses_the_custom_layers_and_keeps_the_build(shipped_stereo_build):
    _, out = shipped_stereo_build
    before = (out / "report.json").read_text()
    run = cli("rtl", out, "-q", timeout=300)
    assert run.returncode == 2, run.stdout[-1000:] + run.stderr[-1000:]
    message = run.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("jpq2hw rtl: error:"), run.stderr
    assert "StereoCostVolume" in message[0]  # names the layer it cannot write as Verilog
    assert (out / "report.json").read_text() == before
    assert not (out / "rtl").exists()


def test_boards():
    run = cli("boards", timeout=120)
    assert run.returncode == 0 and "pynq-z2" in run.stdout


@pytest.mark.slow
def test_synth_dry_run(shipped_stereo_build):
    _, out = shipped_stereo_build
    run = cli("synth", out, "--docker", "jpq2hw-vitis", "--xilinx-root", "/opt/Xilinx", "--stage", "csynth",
              "--dry-run", timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "docker run" in run.stdout and "jpq2hw-vitis" in run.stdout
