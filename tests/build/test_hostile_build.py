"""Hostile model files and careless environments through `jpq2hw build`: every refusal is one line that names the
problem (never 'internal error'), quotes names without raw control characters, and leaves nothing behind."""

import os

import onnx
import pytest
from onnx import TensorProto, helper

from jpq2hw.cli import main
from testkit.qonnx_builder import QonnxBuilder

FORGED = "evil\n\x1b[32mjpq2hw build: bit-exact\x1b[0m"


def build(capsys, *args):
    code = main(["build", *map(str, args)])
    return code, capsys.readouterr().err


def test_control_characters_in_names_are_escaped(tmp_path, capsys):
    b = QonnxBuilder([1, 4], seed=0)
    x = b.dense(b.x, 3)
    b.nodes.append(helper.make_node("Softplus", [x], ["sp"], name=FORGED))
    b.shapes["sp"] = b.shapes[x]
    model = tmp_path / "m\x1b[31m\rred.onnx"
    b.save("sp", model)
    code, err = build(capsys, model, "-o", tmp_path / "out")  # not quiet: the progress lines quote the file too
    assert code == 2 and "\x1b" not in err and "\r" not in err, repr(err)
    lines = err.strip().splitlines()
    assert lines[-1].startswith("jpq2hw build: error:") and "evil\\n\\x1b[32m" in lines[-1], lines
    assert not any(l.startswith("jpq2hw build: bit-exact") for l in lines)
    assert not (tmp_path / "out").exists()


def external_weight_model(folder, location):
    b = QonnxBuilder([1, 4], seed=0)
    m = b.build(b.dense(b.x, 3)).model
    w = next(t for t in m.graph.initializer if list(t.dims) == [4, 3])
    w.ClearField("float_data")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    path = folder / "ext.onnx"
    onnx.save(m, str(path))
    return path


@pytest.mark.parametrize("kind,words", [("fifo", "is a FIFO"), ("device", "is a character device"),
                                        ("folder", "is a folder"), ("missing", "is missing")])
def test_external_data_that_is_not_a_file_says_what_it_is(tmp_path, capsys, kind, words):
    side = tmp_path / "w.data"
    if kind == "fifo":
        os.mkfifo(side)
    elif kind == "device":
        side.symlink_to("/dev/zero")
    elif kind == "folder":
        side.mkdir()
    model = external_weight_model(tmp_path, "w.data")
    code, err = build(capsys, model, "-o", tmp_path / "out", "-q")
    assert code == 2 and words in err and "w.data" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_old_opset_float64_reference_runs(tmp_path, capsys):
    """A 12-bit activation takes the float64 reference; at ONNX opset 11 onnxruntime has no double Clip for the
    nodes that reference adds (was: internal error NOT_IMPLEMENTED). Now the reference is lowered at opset 13."""
    b = QonnxBuilder([1, 4], seed=0)
    x = b.quant(b.dense(b.x, 3, wbits=4), 12, True, -3)
    m = b.build(x).model
    for o in m.opset_import:
        if o.domain == "":
            o.version = 11
    path = tmp_path / "old.onnx"
    onnx.save(m, str(path))
    code, err = build(capsys, path, "-o", tmp_path / "out", "-q", "--vectors", "5")
    assert code == 0 and "internal error" not in err, err
