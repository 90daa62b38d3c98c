"""Trunc (Brevitas's TruncAvgPool) without g++: its float64 reference lowering and its hardware form (two
quantizers), each against qonnx's own Trunc executor on a file Brevitas exports here; refusals by node name."""

import contextlib
import io

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from jpq2hw.pipeline import analyze_file
from jpq2hw.verify.reference import Reference
from jpq2hw.verify.vectors import random_vectors
from testkit import brevitas_finn


def _qonnx(path, xs):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from qonnx.transformation.infer_shapes import InferShapes

    model = ModelWrapper(str(path)).transform(InferShapes())
    name, out = model.graph.input[0].name, model.graph.output[0].name
    return np.stack([execute_onnx(model, {name: x[None].astype(np.float32)})[out][0] for x in xs])


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory):
    return brevitas_finn.make("resnet_block_truncavgpool", tmp_path_factory.mktemp("trunc"))


def test_trunc_reference_and_hardware_graph_equal_qonnx_on_a_brevitas_export(resnet_file):
    from qonnx.core.onnx_exec import execute_onnx

    assert {n.op_type for n in onnx.load(str(resnet_file)).graph.node} >= {"Trunc", "AveragePool", "Add"}
    with contextlib.redirect_stdout(io.StringIO()):
        state = analyze_file(resnet_file)
    assert not state.model.get_nodes_by_op_type("Trunc")  # the hardware has two quantizers instead
    xs = random_vectors(state.input_quant, state.input_shape, 16, seed=3)
    want = _qonnx(resnet_file, xs)
    ref = Reference(state.normalized.reference, 64, force_float64=True)
    assert ref.model.get_nodes_by_op_type("Trunc")  # the reference keeps qonnx's op, lowered as qonnx computes it
    expected = ref.run_batch(xs)
    assert np.array_equal(expected.astype(np.float32), want) and len(np.unique(want)) > 8
    hw, b = state.model, state.boundary
    name, out = hw.graph.input[0].name, hw.graph.output[0].name
    codes = np.stack([execute_onnx(hw, {name: x[None].astype(np.float32)})[out][0] for x in b.to_hardware(xs)])
    assert np.array_equal(codes, b.expected_codes(expected, codes))


def _trunc_model(path, n_inputs=6, out_scale=0.5, mode="ROUND"):
    """Quant (8-bit, scale 0.25) -> AveragePool 2x2 -> Trunc (scale 0.0625, 10 -> 4 bits) -> output."""
    inits = {"s": 0.25, "z": 0.0, "b8": 8.0, "ts": 0.0625, "ib": 10.0, "os": out_scale, "ob": 4.0}
    trunc_in = ["pool", "ts", "z", "ib", "os", "ob"] if n_inputs == 6 else ["pool", "ts", "z", "ib", "ob"]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b8"], ["q"], name="in_quant",
                              domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND"),
             helper.make_node("AveragePool", ["q"], ["pool"], name="my_pool", kernel_shape=[2, 2], strides=[2, 2],
                              pads=[0, 0, 0, 0]),
             helper.make_node("Trunc", trunc_in, ["y"], name="my_trunc", domain="qonnx.custom_op.general",
                              signed=1, narrow=0, rounding_mode=mode)]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])],
                              [helper.make_tensor(k, TensorProto.FLOAT, [], [v]) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 2)])
    onnx.save(model, str(path))
    return path


def test_hand_written_trunc_floor_matches_qonnx(tmp_path):
    path = _trunc_model(tmp_path / "t.onnx", mode="FLOOR")
    state = analyze_file(path)
    xs = random_vectors(state.input_quant, state.input_shape, 60, seed=4)
    expected = Reference(state.normalized.reference, 64, force_float64=True).run_batch(xs)
    assert np.array_equal(expected.astype(np.float32), _qonnx(path, xs)) and len(np.unique(expected)) > 5


@pytest.mark.parametrize("kw,words", [
    (dict(n_inputs=5), ["my_trunc", "version 1"]),
    (dict(out_scale=0.3), ["my_trunc", "not its input scale", "power of two"]),
    (dict(mode="CEIL"), ["my_trunc", "rounding_mode CEIL"]),
])
def test_trunc_refusals_name_the_node(tmp_path, capsys, kw, words):
    from jpq2hw.cli import main

    path = _trunc_model(tmp_path / "t.onnx", **kw)
    assert main(["build", str(path), "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert not (tmp_path / "o").exists()
