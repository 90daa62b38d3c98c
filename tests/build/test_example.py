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
