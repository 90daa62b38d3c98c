"""Bad input: a one-line error naming the problem, exit 2, and no output folder left behind."""

import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper
from onnx import TensorProto, helper

from jpq2hw.cli import main
from testkit.qonnx_builder import QonnxBuilder


def run_cli(args, capsys):
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def assert_refused(tmp_path, capsys, model, *words, extra=()):
    out = tmp_path / "out"
    code, err = run_cli(["build", str(model), "-o", str(out), "-q", *extra], capsys)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("jpq2hw build: error:"), err
    for w in words:
        assert w in err, (w, err)
    assert not out.exists()
    return err


def small_model(path, **kw):
    b = QonnxBuilder([1, 4], seed=0)
    x = b.dense(b.x, 3, **kw)
    return b.save(x, path)


def test_missing_file(tmp_path, capsys):
    assert_refused(tmp_path, capsys, tmp_path / "nope.onnx", "nope.onnx", "no such file")


def test_directory_is_not_a_model(tmp_path, capsys):
    (tmp_path / "d.onnx").mkdir()
    assert_refused(tmp_path, capsys, tmp_path / "d.onnx", "not a file")


def test_not_onnx(tmp_path, capsys):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\x00\xffthis is not protobuf" * 10)
    assert_refused(tmp_path, capsys, p, "junk.onnx", "not an ONNX model")


def test_truncated(tmp_path, capsys):
    good = tmp_path / "good.onnx"
    small_model(good)
    p = tmp_path / "cut.onnx"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert_refused(tmp_path, capsys, p, "cut.onnx")


def test_missing_external_data(tmp_path, capsys):
    m = small_model(tmp_path / "m.onnx")
    for init in m.graph.initializer:  # external data is written only for raw_data tensors
        init.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(init), init.name))
    p = tmp_path / "ext.onnx"
    onnx.save(m.model, str(p), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.onnx.data",
              size_threshold=0)
    (tmp_path / "ext.onnx.data").unlink()
    assert_refused(tmp_path, capsys, p, "ext.onnx.data", "missing")


def test_dynamic_shape(tmp_path, capsys):
    m = small_model(tmp_path / "m.onnx").model
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "features"
    p = tmp_path / "dyn.onnx"
    onnx.save(m, str(p))
    assert_refused(tmp_path, capsys, p, "dynamic", "'x'")


def test_unsupported_op_names_node_and_op(tmp_path, capsys):
    b = QonnxBuilder([1, 4], seed=0)
    x = b.dense(b.x, 3)
    b.nodes.append(helper.make_node("Softplus", [x], ["sp"], name="my_softplus"))
    b.shapes["sp"] = b.shapes[x]
    p = tmp_path / "op.onnx"
    b.save("sp", p)
    assert_refused(tmp_path, capsys, p, "my_softplus", "Softplus")


def test_float_model_points_to_compress(tmp_path, capsys):
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3], np.ones(12))
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w])
    p = tmp_path / "float.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(p))
    assert_refused(tmp_path, capsys, p, "no Quant nodes", "jpq2hw compress")


def test_what_has_no_exact_integer_form_is_refused_naming_the_node(tmp_path, capsys):
    """Float scales are made exact with thresholds, but adding two tensors whose scales differ by a
    non-power-of-two ratio has no exact integer form: refused, not approximated."""
    b = QonnxBuilder([1, 4], seed=0)
    x = b.dense(b.x, 3)
    left = b.quant(x, 4, True, -2)
    right = b.quant(x, 4, True, -2)
    m = b.build(b.add(left, right))
    quant = next(n for n in m.graph.node if n.output[0] == right)
    m.set_initializer(quant.input[1], np.array(0.3, dtype=np.float32))
    p = tmp_path / "scales.onnx"
    m.save(str(p))
    assert_refused(tmp_path, capsys, p, "Add", "different scales")


def test_unknown_board_lists_known_ones(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    small_model(p)
    err = assert_refused(tmp_path, capsys, p, "pynq-z9", extra=["--board", "pynq-z9"])
    assert "pynq-z2" in err


def test_existing_output_is_never_touched_without_force(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    small_model(p)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = run_cli(["build", str(p), "-o", str(out), "-q"], capsys)
    assert code == 2 and "--force" in err and len(err.splitlines()) == 1
    assert (out / "keep.txt").read_text() == "mine" and len(list(out.iterdir())) == 1


def test_failed_forced_build_restores_the_old_output(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"junk")
    code, _ = run_cli(["build", str(p), "-o", str(out), "-q", "--force"], capsys)
    assert code == 2 and (out / "keep.txt").read_text() == "mine"


def test_bad_option_value(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    small_model(p)
    assert_refused(tmp_path, capsys, p, "--vectors", extra=["--vectors", "0"])


def test_no_traceback_from_the_real_command(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"junk")
    r = subprocess.run([sys.executable, "-m", "jpq2hw.cli", "build", str(p), "-o", str(tmp_path / "o"), "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
