"""The general mechanisms the corpus needed, on small hand-made graphs (cheap: no C++): --input-type parsing, the
working copy's opset upgrade and quantizer domain, folding of quantized constants, refusals that name the input."""

import hashlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from jpq2hw.cli import main
from jpq2hw.errors import JpqError
from jpq2hw.frontend.input_type import parse_input_type
from jpq2hw.frontend.load import load_model
from jpq2hw.normalize.passes import normalize


@pytest.mark.parametrize("text, signed, bits, scale", [
    ("fixed<16,6>", True, 16, 2.0**-10),
    ("ufixed<8,0>", False, 8, 2.0**-8),
    ("fixed<8,10>", True, 8, 4.0),
    ("int8", True, 8, 1.0),
    ("uint8*0.00390625", False, 8, 2.0**-8),
    ("uint8*1/255", False, 8, float(np.float32(1 / 255))),
])
def test_input_type_spellings(text, signed, bits, scale):
    t = parse_input_type(text)
    assert (t.signed, t.bits, t.scale) == (signed, bits, scale)


@pytest.mark.parametrize("text", ["float", "fixed<16>", "int1", "uint0", "int64", "int8*0", "int8*-2", "int8*x"])
def test_bad_input_types_are_one_line_errors(text):
    with pytest.raises(JpqError, match="--input-type"):
        parse_input_type(text)


def _qkeras_like_dense(path, opset=9, quant_domain="qonnx", int_params=True, ceil_bias=False):
    """What the QKeras converter writes: opset 9, float input straight into MatMul, a Quant on the constant bias,
    zero point and bit width as int64, Identity nodes at the end."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(4, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(size=(3,)).astype(np.float32), "b"),
        numpy_helper.from_array(np.array(0.125, np.float32), "s"),
        numpy_helper.from_array(np.array(0, np.int64 if int_params else np.float32), "z"),
        numpy_helper.from_array(np.array(4, np.int64 if int_params else np.float32), "bits"),
    ]
    nodes = [
        helper.make_node("Quant", ["w", "s", "z", "bits"], ["wq"], domain=quant_domain, name="w_quant",
                         signed=1, narrow=0, rounding_mode="ROUND"),
        helper.make_node("Quant", ["b", "s", "z", "bits"], ["bq"], domain=quant_domain, name="bias_quant",
                         signed=1, narrow=0, rounding_mode="ROUND"),
        helper.make_node("MatMul", ["inp", "wq"], ["mm"], name="dense/MatMul"),
        *([helper.make_node("Ceil", ["bq"], ["bc"], name="bias_ceil")] if ceil_bias else []),
        helper.make_node("Add", ["mm", "bc" if ceil_bias else "bq"], ["y"], name="dense/BiasAdd"),
        helper.make_node("Identity", ["y"], ["out"], name="Identity"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 4
    onnx.save(model, path)
    return path


def test_working_copy_is_modern_and_the_file_untouched(tmp_path):
    path = _qkeras_like_dense(tmp_path / "m.onnx")
    before = hashlib.md5(path.read_bytes()).hexdigest()
    n = normalize(load_model(path), str(path), input_type=parse_input_type("fixed<12,4>"))
    assert hashlib.md5(path.read_bytes()).hexdigest() == before
    opsets = {o.domain: o.version for o in n.hardware.model.opset_import}
    assert opsets[""] >= 13
    quants = n.hardware.get_nodes_by_op_type("Quant")
    assert {q.domain for q in quants} == {"qonnx.custom_op.general"}
    # the bias Quant is folded into a constant on its grid; the weight Quant and the declared input Quant stay
    assert len(quants) == 2
    add = n.hardware.get_nodes_by_op_type("Add")[0]
    bias = next(n.hardware.get_initializer(i) for i in add.input if n.hardware.get_initializer(i) is not None)
    assert np.all(bias / 0.125 == np.round(bias / 0.125)) and np.all(np.abs(bias / 0.125) <= 8)


def test_float_input_is_named_before_anything_else(tmp_path, capsys):
    path = _qkeras_like_dense(tmp_path / "m.onnx")
    code = main(["build", str(path), "-o", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "'inp' is an unquantized float" in err and "--input-type fixed<" in err, err
    assert not (tmp_path / "out").exists()


def test_malformed_input_type_fails_before_building(tmp_path, capsys):
    path = _qkeras_like_dense(tmp_path / "m.onnx")
    code = main(["build", str(path), "-o", str(tmp_path / "out"), "-q", "--input-type", "fixed16"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--input-type fixed16: not a type" in err, err
    assert not (tmp_path / "out").exists()


def test_declared_grid_is_the_reference_input(tmp_path):
    """The reference quantizes onto the declared grid first: off-grid values round to it, on-grid ones pass."""
    from jpq2hw.verify.reference import Reference

    path = _qkeras_like_dense(tmp_path / "m.onnx")
    n = normalize(load_model(path), str(path), input_type=parse_input_type("fixed<8,4>"))
    ref = Reference(n.reference, 32)
    on_grid = np.array([[0.0625, -1.5, 3.9375, -8.0]])
    off_grid = on_grid + 0.01
    assert np.array_equal(ref.run_batch(on_grid), ref.run_batch(off_grid))
    assert not np.array_equal(ref.run_batch(on_grid), ref.run_batch(on_grid + 0.0625))


def test_ops_on_constants_only_are_folded_not_refused(tmp_path):
    """A Ceil has no hardware form, but on a constant (here a quantized bias) it is just another constant."""
    path = _qkeras_like_dense(tmp_path / "m.onnx", ceil_bias=True)
    from jpq2hw.frontend.validate import validate_structure

    model = load_model(path)
    validate_structure(model, str(path))
    n = normalize(model, str(path), input_type=parse_input_type("fixed<12,4>"))
    assert not n.hardware.get_nodes_by_op_type("Ceil")
    add = n.hardware.get_nodes_by_op_type("Add")[0]
    bias = next(n.hardware.get_initializer(i) for i in add.input if n.hardware.get_initializer(i) is not None)
    assert np.array_equal(bias, np.ceil(bias))
