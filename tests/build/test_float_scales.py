"""Models with float (non power-of-two) scales, as Brevitas exports them by default: the hardware becomes
integer arithmetic with exact thresholds, and must equal the float64 evaluation of the original graph."""

import numpy as np
import pytest

from jpq2hw.build import BuildOptions, run_build
from testkit.qonnx_builder import QonnxBuilder

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind,io", [("brevitas_float_mlp", "parallel"), ("brevitas_float_conv", "parallel"),
                                     ("brevitas_float_conv", "stream"), ("brevitas_binary_mlp", "parallel"),
                                     ("brevitas_conv1d", "stream")])
def test_float_scales_are_exact(model_file, tmp_path, kind, io):
    code, report = run_build(BuildOptions(model=model_file(kind), out=tmp_path / "o", io=io, quiet=True))
    assert report["mismatched_vectors"] == 0 and code == 0 and report["bit_exact"]
    assert report["reference"] == "qonnx-float64"
    ops = {h["op"] for h in report["host_ops"]}
    assert ops & {"Quant", "BipolarQuant"}  # the input quantizer runs on the host; the hardware takes integer codes
    assert any("thresholds" in name for name in report["hls_types"])
    assert (tmp_path / "o" / "vectors" / "hw_inputs.npy").is_file()
    if kind == "brevitas_binary_mlp":  # bipolar outputs stay -1/+1: never 0/1
        out = np.load(tmp_path / "o" / "vectors" / "expected.npy")
        codes = np.load(tmp_path / "o" / "vectors" / "hw_outputs.npy")
        assert set(np.unique(codes)) == {-1.0, 1.0}  # the hardware keeps the bipolar encoding
        assert set(np.unique(np.sign(out))) == {-1.0, 1.0}


def test_negative_and_zero_factors_give_descending_and_constant_channels(tmp_path):
    """A negative per-channel factor turns the quantizer steps around on that channel; a zero one is constant."""
    b = QonnxBuilder([1, 6], in_bits=6, in_signed=True, in_scale_exp=-3, seed=5)
    x = b.dense(b.x, 4, wbits=4, sparsity=0.3)
    # a hand-made affine with negative and non-dyadic factors: Mul by a per-channel constant, then Add
    scale = b._const("k", np.array([0.7, -1.3, 0.0, 2.1], dtype=np.float32))
    shift = b._const("c", np.array([0.05, -0.2, 0.3, 0.0], dtype=np.float32))
    from onnx import helper
    b.nodes.append(helper.make_node("Mul", [x, scale], ["mul_out"], name="scale_mul"))
    b.nodes.append(helper.make_node("Add", ["mul_out", shift], ["add_out"], name="shift_add"))
    b.shapes["mul_out"] = b.shapes["add_out"] = b.shapes[x]
    y = b.quant("add_out", 4, True, -2)
    m = b.build(y)
    q = next(n for n in m.graph.node if n.output[0] == y)
    m.set_initializer(q.input[1], np.array(0.37, dtype=np.float32))  # a float scale: thresholds, not a shift
    p = tmp_path / "neg.onnx"
    m.save(str(p))
    code, report = run_build(BuildOptions(model=p, out=tmp_path / "o", quiet=True, vectors=200))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    out = np.load(tmp_path / "o" / "vectors" / "expected.npy")
    assert len(np.unique(out[:, 1])) > 2  # the negative channel really steps
    assert len(np.unique(out[:, 2])) == 1  # the zero-factor channel is constant


@pytest.mark.parametrize("annotated", [False, True])
def test_rescaled_integer_input_folds_into_the_input_type(tmp_path, annotated):
    """A head that only rescales a quantized input (UINT8 codes / 255, as image pipelines write it): the divide
    folds into the input's scale, the hardware takes the codes, and the result is exact. hls4ml alone stops with
    "Unexpected new precision type" on this graph."""
    import onnx
    from onnx import helper

    b = QonnxBuilder([1, 16], in_bits=8, in_signed=False, in_scale_exp=0, seed=3)
    if annotated:  # FINN style: the input is typed UINT8 by an annotation, no Quant node
        first = b.nodes.pop(0)
        b.inits = [i for i in b.inits if i.name not in first.input]
        b.x = "x"
    b.nodes.append(helper.make_node("Div", [b.x, b._const("k255", np.float32(255.0))], ["scaled"], name="div_255"))
    b.shapes["scaled"] = [1, 16]
    x = b.quant(b.relu(b.dense("scaled", 12, wbits=4, sparsity=0.3)), 4, False, -2)
    x = b.quant(b.dense(x, 6, wbits=4, sparsity=0.3), 6, True, -2)
    model = b.build(x).model
    if annotated:
        ann = onnx.TensorAnnotation(tensor_name="x")
        ann.quant_parameter_tensor_names.add(key="finn_datatype", value="UINT8")
        model.graph.quantization_annotation.append(ann)
    onnx.save(model, str(tmp_path / "m.onnx"))
    code, report = run_build(BuildOptions(model=tmp_path / "m.onnx", out=tmp_path / "o", quiet=True, vectors=60))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    assert report["input_type"].startswith("ufixed<8,8")  # the codes 0..255 themselves
    assert not any(h["op"] == "Div" for h in report["host_ops"])  # folded, not run on the host


def test_division_by_constants_is_exact(tmp_path):
    """Div by a power of two after the input quantizer and by 3 after the last one: both fold exactly into the
    integer hardware (hls4ml has no Div); neither runs on the host as a float op."""
    from onnx import helper

    b = QonnxBuilder([1, 16], in_bits=8, in_signed=False, in_scale_exp=0, seed=3)
    b.nodes.append(helper.make_node("Div", [b.x, b._const("k4", np.float32(4.0))], ["xs"], name="div_4"))
    b.shapes["xs"] = [1, 16]
    x = b.quant(b.relu(b.dense("xs", 12, wbits=4, sparsity=0.3)), 4, False, -2)
    x = b.quant(b.dense(x, 6, wbits=4, sparsity=0.3), 6, True, -2)
    b.nodes.append(helper.make_node("Div", [x, b._const("k3", np.float32(3.0))], ["y"], name="div_3"))
    b.shapes["y"] = [1, 6]
    b.save("y", tmp_path / "m.onnx")
    code, report = run_build(BuildOptions(model=tmp_path / "m.onnx", out=tmp_path / "o", quiet=True, vectors=60))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    assert not any(h["op"] == "Div" for h in report["host_ops"])
