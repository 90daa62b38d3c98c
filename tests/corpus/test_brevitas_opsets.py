"""Files Brevitas itself exports here, at the opsets older PyTorch exporters wrote (11) and a modern one (13):
a BatchNorm-after-Linear MLP and a 1-D CNN with BatchNorm and MaxPool, built as exported (never edited)."""

import contextlib
import io
import json

import onnx
import pytest

from jpq2hw.cli import main
from testkit import zoo

MODELS = {"mlp_bn_after_linear": zoo.brevitas_mlp_w2a2_bn, "cnn1d_bn_pool": zoo.brevitas_cnn1d_bn_pool}


@pytest.mark.slow
@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_brevitas_export_at_opset_builds_bit_exact(name, opset, tmp_path, capsys):
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter talks
        path = MODELS[name](tmp_path / f"{name}_opset{opset}.onnx", opset=opset)
    assert {o.domain: o.version for o in onnx.load(str(path)).opset_import}[""] == opset
    out = tmp_path / "out"
    code = main(["build", str(path), "-o", str(out), "--vectors", "8", "-q"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"] and report["mismatched_vectors"] == 0 and report["vectors"] >= 8
    assert report["emulator"]["status"] == "agrees", report["emulator"]
