"""The README's first command: the shipped example (made by `jpq2hw compress`) builds bit-exact for pynq-z2."""

import json

import pytest

from jpq2hw.cli import main
from testkit import EXAMPLES

pytestmark = pytest.mark.slow


def test_shipped_example_builds_bit_exact(tmp_path, capsys):
    out = tmp_path / "digits_cnn_pynq-z2"
    code = main(["build", "--board", "pynq-z2", str(EXAMPLES / "digits" / "digits_cnn.onnx"), "-o", str(out), "-q"])
    report = json.loads((out / "report.json").read_text())
    assert code == 0 and report["bit_exact"] and report["vectors"] >= 100
    assert report["totals"]["sparsity"] >= 0.95  # what compress promised: >= 95% sparse
    assert all(layer["weight_bits"] <= 4 for layer in report["layers"])
    assert report["estimate"]["totals"]["lut"] < report["estimate"]["board"]["capacity"]["lut"]
    assert (out / "report.html").is_file()
    assert report["emulator"]["status"] == "agrees" and report["emulator"]["vectors"] == report["vectors"]


def test_report_command_estimates_what_the_build_estimated(tmp_path):
    """`jpq2hw report` (io auto, like the build) gives the build's estimate for the same model, FF included: both
    price the exact accumulator widths of the one value-range analysis."""
    from jpq2hw.commands.report import build_estimate_report

    model = EXAMPLES / "digits" / "digits_cnn.onnx"
    assert main(["build", str(model), "-o", str(tmp_path / "b"), "-q", "--vectors", "3"]) == 0
    built = json.loads((tmp_path / "b" / "report.json").read_text())
    est = build_estimate_report(model, "pynq-z2")
    assert est["io_type"] == built["io_type"] and est["io_choice"] == built["io_choice"]
    assert est["estimate"]["totals"] == built["estimate"]["totals"]
    assert est["estimate"]["layers"] == built["estimate"]["layers"]
    assert est["totals"] == built["totals"] and est["layers"] == built["layers"]
    assert all(row["accum_bits"] for row in built["layers"])
    assert est["estimate"]["performance"] == built["estimate"]["performance"]
    assert est["estimate"]["not_counted"] == built["estimate"]["not_counted"]
    assert est["interface"]["input"] == {k: v for k, v in built["interface"]["input"].items()} | {
        "type": est["interface"]["input"]["type"]}  # same shape, words, word width (type spelled per tool)
