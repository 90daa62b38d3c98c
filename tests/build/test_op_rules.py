"""Each op's rule on its own, in seconds (no hls4ml, no g++): the registry holds one rule per op module, the one
value-range analysis gives the exact ranges worked out by hand here, and the float64 lowerings compute what the
op means."""

import pkgutil

import numpy as np
import pytest
from onnx import helper

import jpq2hw.ops as ops
from jpq2hw.annotate.value_ranges import accumulator_bits, value_ranges
from jpq2hw.core.fixed import Range
from jpq2hw.verify.reference import Reference
from testkit.qonnx_builder import QonnxBuilder

def test_every_op_module_is_registered_and_every_hook_callable():
    modules = {m.name for m in pkgutil.iter_modules(ops.__path__)} - ops.HELPER_MODULES
    assert modules == {m.__name__.rsplit(".", 1)[1] for m in ops.OP_MODULES}  # each found and imported
    hooks = ("validate", "needs_streamline", "streamline", "value_range", "float64")
    for name, rule in {**ops.OPS, **ops.INTERNAL_OPS}.items():
        for hook in hooks:
            assert getattr(rule, hook) is None or callable(getattr(rule, hook)), (name, hook)
    with pytest.raises(ValueError, match="twice"):
        ops.register("Relu", ops.OpRule("another Relu"))


def _dense_net():
    """x: 4-bit signed integers (-8..7) -> dense with weights [[1, -2], [0, 1], [3, 0]] and bias [5, -1] -> ReLU
    -> 8-bit signed Quant of scale 1/4."""
    b = QonnxBuilder([1, 3], in_bits=4, in_signed=True, in_scale_exp=0)
    y = b.dense(b.x, 2, wbits=4, w_scale_exp=0, weights=[[1, -2], [0, 1], [3, 0]], bias=True, bias_values=[5, -1])
    r = b.relu(y)
    q = b.quant(r, 8, True, -2)
    return b.build(q), y, r, q


def test_dense_ranges_worked_out_by_hand():
    model, biased, relu, out = _dense_net()
    ranges = value_ranges(model)
    # column 0 (1, 0, 3): 7 + 21 + 5 = 33 at most, -8 - 24 + 5 = -27 at least; column 1 (-2, 1, 0): 16 + 7 - 1 = 22,
    # -14 - 8 - 1 = -23: the union is -27..33, the bias Add merged into the layer as hls4ml does
    assert ranges[biased] == Range(-27, 33, 0)
    assert ranges[relu] == Range(0, 33, 0)
    assert ranges[out] == Range(-128, 127, 2)  # the quantizer's type
    matmul = next(n for n in model.graph.node if n.op_type == "MatMul")
    assert accumulator_bits(model, ranges) == {matmul.name: 7}  # -27..33 needs a sign and 6 bits


def test_merges_and_concatenation_ranges():
    """a = 3-bit Quant of x (-4..3), b = ReLU(x) (0..7): a + b is -4..10, their concatenation -4..7."""
    b = QonnxBuilder([1, 4], in_bits=4, in_signed=True, in_scale_exp=0)
    a = b.quant(b.x, 3, True, 0)
    r = b.relu(b.x)
    s = b.add(a, r)
    c = b.concat([a, r])
    b.nodes.append(helper.make_node("Sub", [a, r], ["diff"], name="sub"))
    b.shapes["diff"] = b.shapes[a]
    ranges = value_ranges(b.build(s))
    assert ranges[s] == Range(-4, 10, 0) and ranges[c] == Range(-4, 7, 0) and ranges["diff"] == Range(-11, 3, 0)


def test_a_tensor_without_a_rule_has_no_range():
    b = QonnxBuilder([1, 4], in_bits=4, in_signed=True, in_scale_exp=0)
    b.nodes.append(helper.make_node("Softmax", [b.x], ["soft"], name="soft"))
    b.shapes["soft"] = b.shapes[b.x]
    after = b.relu("soft")
    ranges = value_ranges(b.build(after))
    assert b.x in ranges and "soft" not in ranges and after not in ranges


def test_leaky_relu_range_and_float64_lowering():
    """LeakyRelu(0.25) of 4-bit integers: -8 * 0.25 = -2 ... 7 on the grid of quarters; the float64 reference
    (onnxruntime has no float64 LeakyRelu) computes max(x, 0) + 0.25 * min(x, 0)."""
    b = QonnxBuilder([1, 16], in_bits=4, in_signed=True, in_scale_exp=0)
    y = b.leaky_relu(b.x, 0.25)
    q = b.quant(y, 8, True, -2)
    model = b.build(q)
    assert value_ranges(model)[y] == Range(-8, 28, 2)
    xs = np.arange(-8, 8, dtype=np.float64).reshape(1, 1, 16)
    got = Reference(model, 64, force_float64=True).run_batch(xs[0])
    assert got.shape == (1, 16) and np.array_equal(got[0], np.where(xs[0, 0] >= 0, xs[0, 0], 0.25 * xs[0, 0]))


def test_quant_float64_lowering_rounds_half_to_even_and_saturates():
    b = QonnxBuilder([1, 8], in_bits=8, in_signed=True, in_scale_exp=-2)  # input: quarters, -32..31.75
    q = b.quant(b.x, 3, True, 0)  # integers -4..3, ties to even
    model = b.build(q)
    xs = np.array([[-5.0, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 7.0]])
    got = Reference(model, 64, force_float64=True).run_batch(xs)
    assert np.array_equal(got, [[-4, -2, -2, -0, 0, 2, 2, 3]])


def test_a_non_finite_constant_leaves_its_range_unknown():
    """An inf bias has no exact range: the analysis says nothing of it (the conversion refuses it by name)."""
    b = QonnxBuilder([1, 2], in_bits=4, in_signed=True, in_scale_exp=0)
    y = b.dense(b.x, 2, wbits=4, w_scale_exp=0, weights=[[1, 0], [0, 1]], bias=True, bias_values=[np.inf, 0])
    r = b.relu(y)
    ranges = value_ranges(b.build(r))
    assert b.x in ranges and y not in ranges and r not in ranges
