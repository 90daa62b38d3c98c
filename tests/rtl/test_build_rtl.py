"""`jpq2hw build --rtl`: the RTL is an optional late step. It runs on a model with a max-pool (a weightless layer
the report must render), and a failure inside it keeps the verified build, recorded in report.json, exit 3."""

import json

import numpy as np
import pytest

import rtl_models
from jpq2hw.build import BuildOptions, run_build
from jpq2hw.errors import EXIT_LATE_STEP_FAILED, EXIT_OK

pytestmark = [pytest.mark.slow, pytest.mark.needs_tools]


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    return rtl_models.small_cnn(tmp_path_factory.mktemp("cnn") / "small_cnn.onnx")


def test_build_rtl_with_maxpool_renders_the_report(cnn, tmp_path):
    out = tmp_path / "out"
    code, report = run_build(BuildOptions(model=cnn, out=out, vectors=6, rtl=True, quiet=True))
    assert code == EXIT_OK and report["bit_exact"] and "failed_steps" not in report
    y = report["synthesis"]["yosys"]
    assert y["bit_exact"] and [l["kind"] for l in y["layers"]].count("maxpool") == 1
    md = (out / "report.md").read_text()
    assert "RTL synthesized with Yosys" in md
    pool = next(l for l in y["layers"] if l["kind"] == "maxpool")
    assert pool["sparsity"] is None and f"| {pool['name']} | - |" in md  # no weights: no sparsity, no crash
    assert (out / "report.html").is_file() and (out / "rtl" / "run.sh").is_file()


def test_failed_rtl_step_keeps_the_verified_build(cnn, tmp_path, monkeypatch):
    import jpq2hw.rtl.synth as rtl_synth

    def killed(*args, **kwargs):
        raise RuntimeError("yosys was killed (signal 9)")

    monkeypatch.setattr(rtl_synth, "synthesize", killed)  # fails after the Verilog is written and simulated
    out = tmp_path / "out"
    code, report = run_build(BuildOptions(model=cnn, out=out, vectors=6, rtl=True, quiet=True))
    assert code == EXIT_LATE_STEP_FAILED
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["bit_exact"] is True and on_disk["mismatched_vectors"] == 0 and on_disk["vectors"] == 6
    assert [f["step"] for f in on_disk["failed_steps"]] == ["rtl"]
    assert "yosys was killed" in on_disk["failed_steps"][0]["error"]
    assert "yosys" not in on_disk.get("synthesis", {})
    # the verified build is all there
    for rel in ("hls/firmware/myproject.cpp", "board/myproject_axis_tb.cpp", "board/Makefile", "report.md",
                "report.html"):
        assert (out / rel).is_file(), rel
    assert np.load(out / "vectors" / "expected.npy").shape[0] == 6
