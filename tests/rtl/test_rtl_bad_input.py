"""`jpq2hw rtl OUT` on bad input: one line, exit 2, and the previous OUT/rtl left as it was."""

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import rtl_models
from jpq2hw.cli import main
from testkit.rtl_folder import reference_folder

pytestmark = pytest.mark.needs_tools


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "internal error" not in err[0]
    return err[0]


def _fake_build(tmp_path, n_in=4, n_exp=4):
    """The four files `jpq2hw rtl` wants, without running the build: enough to reach its input checks."""
    out = tmp_path / "fake"
    (out / "vectors").mkdir(parents=True)
    np.save(out / "vectors" / "inputs.npy", np.zeros((n_in, 16)))
    np.save(out / "vectors" / "expected.npy", np.zeros((n_exp, 8)))
    (out / "report.json").write_text(json.dumps({"model": "m.onnx", "board": "pynq-z2"}))
    rtl_models.sparse_mlp(out / "model_normalized.onnx")
    return out


def test_refused_design_keeps_previous_rtl(tmp_path, capsys):
    """A layer made all-zero after a good run: refused with exit 2, the old OUT/rtl untouched, no temp left."""
    folder = reference_folder(rtl_models.sparse_mlp(tmp_path / "model.onnx"), tmp_path / "build", vectors=10)
    assert main(["rtl", str(folder), "-q", "--synth", "none"]) == 0
    before = _tree(folder / "rtl")
    assert "src/jpq2hw_top.v" in before and "run.sh" in before
    capsys.readouterr()

    path = folder / "model_normalized.onnx"
    m = onnx.load(str(path))
    quant_inputs = {n.input[0] for n in m.graph.node if n.op_type == "Quant"}
    weights = [i for i in m.graph.initializer if i.name in quant_inputs and len(i.dims) == 2]
    init = weights[-1]  # the last dense layer (no bias): all-zero weights make it constant
    init.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(init)), init.name))
    onnx.save(m, str(path))

    code = main(["rtl", str(folder), "-q", "--synth", "none"])
    line = _one_line_error(capsys)
    assert code == 2 and "constant (all weights zero)" in line
    assert _tree(folder / "rtl") == before
    assert not (folder / "rtl.tmp").exists()


def test_stale_temp_folder_is_replaced(tmp_path):
    """A leftover OUT/rtl.tmp (a killed run) does not block the next run and is not left behind."""
    folder = reference_folder(rtl_models.signed_requant_mlp(tmp_path / "model.onnx"), tmp_path / "build",
                              vectors=5)
    (folder / "rtl.tmp" / "src").mkdir(parents=True)
    (folder / "rtl.tmp" / "src" / "junk.v").write_text("junk\n")
    assert main(["rtl", str(folder), "-q", "--synth", "none"]) == 0
    assert not (folder / "rtl.tmp").exists() and not (folder / "rtl" / "src" / "junk.v").exists()
    assert (folder / "rtl" / "src" / "jpq2hw_top.v").is_file()


@pytest.mark.parametrize("text, why", [("[]", "not a jpq2hw report"), ("{\"board\": ", "not valid JSON"),
                                       ("\"x\"", "not a jpq2hw report")])
def test_bad_report_one_line(tmp_path, capsys, text, why):
    out = _fake_build(tmp_path)
    (out / "report.json").write_text(text)
    code = main(["rtl", str(out), "--synth", "none"])
    line = _one_line_error(capsys)
    assert code == 2 and "report.json" in line and why in line
    assert not (out / "rtl").exists()


@pytest.mark.parametrize("name", ["inputs.npy", "expected.npy"])
def test_corrupt_vectors_one_line(tmp_path, capsys, name):
    out = _fake_build(tmp_path)
    (out / "vectors" / name).write_bytes(b"this is not a .npy file\n")
    code = main(["rtl", str(out), "--synth", "none"])
    line = _one_line_error(capsys)
    assert code == 2 and name in line and "cannot read the vectors" in line


def test_vector_count_mismatch_one_line(tmp_path, capsys):
    out = _fake_build(tmp_path, n_in=5, n_exp=3)
    code = main(["rtl", str(out), "--synth", "none"])
    line = _one_line_error(capsys)
    assert code == 2 and "inputs.npy holds 5 vectors" in line and "expected.npy holds 3" in line


@pytest.mark.parametrize("content", [b"not an onnx model \xff\xfe\x00", b""])
def test_corrupt_model_one_line(tmp_path, capsys, content):
    out = _fake_build(tmp_path)
    (out / "model_normalized.onnx").write_bytes(content)
    code = main(["rtl", str(out), "--synth", "none"])
    line = _one_line_error(capsys)
    assert code == 2 and "model_normalized.onnx" in line
