"""Each pass on its own, in seconds (no g++): streamlining float scales into integer codes and thresholds,
the exact types hls4ml is given, and the host split of a float head and tail."""

import numpy as np
import pytest
from onnx import helper

from build.test_host_split import head_core_tail_model
from jpq2hw.core.fixed import dot_range
from jpq2hw.errors import JpqError
from jpq2hw.pipeline import analyze_file, steps
from jpq2hw.verify.reference import Reference
from jpq2hw.verify.vectors import random_vectors
from testkit.qonnx_builder import QonnxBuilder


def _float_affine_model(path):
    """Dense, then a per-channel Mul (negative, zero and non-dyadic factors) and Add, then a Quant of scale
    0.37: no power-of-two form, so streamlining must make thresholds."""
    b = QonnxBuilder([1, 6], in_bits=6, in_signed=True, in_scale_exp=-3, seed=5)
    x = b.dense(b.x, 4, wbits=4, sparsity=0.3)
    k = b._const("k", np.array([0.7, -1.3, 0.0, 2.1], dtype=np.float32))
    c = b._const("c", np.array([0.05, -0.2, 0.3, 0.0], dtype=np.float32))
    b.nodes.append(helper.make_node("Mul", [x, k], ["mul_out"], name="scale_mul"))
    b.nodes.append(helper.make_node("Add", ["mul_out", c], ["add_out"], name="shift_add"))
    b.shapes["mul_out"] = b.shapes["add_out"] = b.shapes[x]
    y = b.quant("add_out", 4, True, -2)
    m = b.build(y)
    q = next(n for n in m.graph.node if n.output[0] == y)
    m.set_initializer(q.input[1], np.array(0.37, dtype=np.float32))
    m.save(str(path))
    return path


def test_streamlined_integer_graph_gives_the_reference_codes(tmp_path):
    from qonnx.core.onnx_exec import execute_onnx

    state = analyze_file(_float_affine_model(tmp_path / "m.onnx"))
    hw, b = state.model, state.boundary
    assert b.integer_core and any(n.op_type == "Jpq2hwThreshold" for n in hw.graph.node)
    assert not any(n.op_type in ("Mul", "Add") for n in hw.graph.node)  # folded into the thresholds
    xs = random_vectors(state.input_quant, state.input_shape, 200, seed=1)
    expected = Reference(state.normalized.reference, 64, force_float64=True).run_batch(xs)
    name, out = hw.graph.input[0].name, hw.graph.output[0].name
    codes = np.stack([execute_onnx(hw, {name: x[None].astype(np.float32)})[out][0] for x in b.to_hardware(xs)])
    assert np.array_equal(codes, b.expected_codes(expected, codes))  # exact in code units
    assert len(np.unique(codes[:, 1])) > 2 and len(np.unique(codes[:, 2])) == 1  # negative steps; zero is constant
    assert np.allclose(b.to_real(codes), expected, rtol=0, atol=1e-6)


def test_streamlining_refuses_by_node_name(tmp_path):
    """Two activations whose scales differ by a non-power-of-two ratio cannot be added in integers."""
    b = QonnxBuilder([1, 8], in_bits=6, in_signed=True, in_scale_exp=-3, seed=2)
    left = b.quant(b.dense(b.x, 4, wbits=4), 6, True, -2)
    right = b.quant(b.dense(b.x, 4, wbits=4), 6, True, -2)
    s = b.add(left, right)
    y = b.quant(s, 6, True, -2)
    m = b.build(y)
    q_right = next(n for n in m.graph.node if n.output[0] == right)
    m.set_initializer(q_right.input[1], np.array(0.3, dtype=np.float32))
    m.save(str(tmp_path / "m.onnx"))
    add = next(n for n in m.graph.node if n.op_type == "Add")
    with pytest.raises(JpqError, match=add.name):
        analyze_file(tmp_path / "m.onnx")


def test_exact_types_hold_every_constant_and_sum(model_file, tmp_path):
    """hls4ml is given, per dense/conv layer, an accumulator exactly as wide as the range of bias + sum(w x)
    over its input's range, as wide as the value-range analysis says, and weight/bias types that hold every
    constant (conversion only, no compile)."""
    from jpq2hw.convert.exact_precision import from_hls

    state = analyze_file(model_file("conv_stack"), out=tmp_path / "o")
    state.out.mkdir()
    steps.convert(state)
    checked = 0
    for layer in state.hls_model.get_layers():
        if layer.class_name not in ("Dense", "Conv2D"):
            continue
        w = layer.get_attr("weight").data
        bias = layer.get_attr("bias")
        bias = bias.data if bias is not None else None
        acc = from_hls(layer.get_attr("accum_t").precision)
        wt = from_hls(layer.get_attr("weight_t").precision)
        in_type = from_hls(layer.get_input_variable().type.precision)
        want = dot_range(in_type.range(), w.reshape(-1, w.shape[-1]), bias).to_type()
        assert (acc.width, acc.integer, acc.signed) == (want.width, want.integer, want.signed), layer.name
        # the build's one value-range analysis (what the estimate prices) gives the same width
        priced = next(l.accum_bits for l in state.analysis.layers if l.output == layer.outputs[0])
        assert priced == acc.width, layer.name
        step = 2.0 ** -(wt.width - wt.integer)
        assert np.all(np.mod(w, step) == 0) and wt.range().lo <= w.min() and w.max() <= wt.range().hi, layer.name
        checked += 1
    assert checked >= 2


def test_head_core_and_tail_compose_to_the_whole_model(tmp_path):
    state = analyze_file(head_core_tail_model(tmp_path / "m.onnx"))
    n, b = state.normalized, state.boundary
    assert [op["op"] for op in b.ops] == ["Sub", "Mul", "Softmax"] and not b.integer_core
    assert not any(node.op_type in ("Sub", "Mul", "Softmax") for node in state.model.graph.node)
    raw = np.random.default_rng(0).uniform(-2, 2, size=(20, 16))
    core_in = b.head.run(raw)
    # the quantized core (what the hardware computes), in float64, between the two host parts
    core_out = Reference(n.reference, 64, force_float64=True).run_batch(core_in)
    whole = Reference(n.full_reference, 64, force_float64=True).run_batch(raw)
    composed = b.tail.run(core_out)
    assert np.allclose(composed, whole, rtol=1e-5, atol=1e-6) and composed.shape == whole.shape
    assert np.allclose(composed.sum(axis=1), 1.0, atol=1e-5)  # the softmax really ran on the host


def test_normalization_is_a_list_of_named_passes_each_runnable_alone(tmp_path):
    """The order of normalization is one list (NORMALIZE_PASSES); a prefix of it runs on its own and does what its
    names say (no g++)."""
    from jpq2hw.normalize.passes import NORMALIZE_PASSES, NormalizeRun

    names = [name for name, _ in NORMALIZE_PASSES]
    assert len(names) == len(set(names))
    assert names.index("split_head") < names.index("set_aside_reference") < names.index("average_pools_as_sums")
    assert names.index("check_quantizers") == names.index("streamline") - 1  # streamlining's precondition, in view
    b = QonnxBuilder([1, 6], in_bits=6, in_signed=True, in_scale_exp=-3, seed=5)
    model = b.build(b.quant(b.dense(b.x, 4, wbits=4), 4, True, -2))
    run = NormalizeRun(source="m.onnx", input_type=None, file_input=model.graph.input[0].name)
    for name, apply in NORMALIZE_PASSES[:names.index("cleanup") + 1]:
        model = apply(model, run)
    assert model.graph.input[0].name == "global_in"  # qonnx's cleanup ran
    assert run.reference is None and run.head is None  # later passes set these
