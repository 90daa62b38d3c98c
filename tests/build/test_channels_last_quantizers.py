"""Channels-last conversion through per-channel and 1-bit quantizers (jpq2hw/normalize/channels_last.py), and the
per-channel scale a depthwise conv takes, without g++: the normalized hardware graph run by qonnx's executor gives
the reference's codes, and the reference equals qonnx's executor on the unmodified Brevitas export."""

import contextlib
import io

import numpy as np
import pytest
from onnx import TensorProto, helper

from jpq2hw.pipeline import analyze_file
from jpq2hw.verify.reference import Reference
from jpq2hw.verify.vectors import random_vectors
from testkit import brevitas_finn


def _qonnx(path, xs):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(str(path))
    name, out = model.graph.input[0].name, model.graph.output[0].name
    return np.stack([execute_onnx(model, {name: x[None].astype(np.float32)})[out][0] for x in xs])


@pytest.mark.parametrize("name", ["mobilenet_block_perchannel_act", "cnv_w1a1"])
def test_hardware_graph_and_reference_equal_qonnx_on_a_brevitas_export(name, tmp_path):
    from qonnx.core.onnx_exec import execute_onnx

    path = brevitas_finn.make(name, tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        state = analyze_file(path)
    hw, b = state.model, state.boundary
    ends = {hw.graph.input[0].name, hw.graph.output[0].name}
    for t in hw.get_nodes_by_op_type("Transpose"):  # only at the graph's NCHW ends or before the flatten
        consumers = hw.find_consumers(t.output[0]) or []
        assert {t.input[0], t.output[0]} & ends or all(c.op_type in ("Reshape", "Flatten") for c in consumers)
    xs = random_vectors(state.input_quant, state.input_shape, 12, seed=5)
    expected = Reference(state.normalized.reference, 64, force_float64=True).run_batch(xs)
    want = _qonnx(path, xs)
    assert np.array_equal(expected.astype(np.float32), want) and len(np.unique(want)) > 4
    name_in, out = hw.graph.input[0].name, hw.graph.output[0].name
    codes = np.stack([execute_onnx(hw, {name_in: x[None].astype(np.float32)})[out][0] for x in b.to_hardware(xs)])
    assert np.array_equal(codes, b.expected_codes(expected, codes))


def _perchannel_then_conv(path, group):
    """Quant (8-bit) -> Conv 3x3 (4 -> 4 channels, the given group) -> Quant with one scale per channel
    [1, 4, 1, 1] -> Conv 1x1 named 'user_conv' -> Quant: a per-channel scale into a dense conv."""
    rng = np.random.default_rng(0)
    inits = {"s": np.float32(0.013), "z": np.float32(0), "b8": np.float32(8), "b4": np.float32(4), "ws": np.float32(0.1),
             "w1": (rng.integers(-7, 8, [4, 4 // group, 3, 3]) * 0.1).astype(np.float32),
             "w2": (rng.integers(-7, 8, [4, 4, 1, 1]) * 0.1).astype(np.float32),
             "pc": np.array([0.02, 0.05, 0.011, 0.3], np.float32).reshape(1, 4, 1, 1), "so": np.float32(0.07)}
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    conv = dict(strides=[1, 1], dilations=[1, 1])
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b8"], ["xq"], name="in_q", **q),
             helper.make_node("Quant", ["w1", "ws", "z", "b4"], ["w1q"], name="w1_q", **q),
             helper.make_node("Conv", ["xq", "w1q"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              group=group, **conv),
             helper.make_node("Quant", ["c1", "pc", "z", "b4"], ["a1"], name="perchannel_act", **q),
             helper.make_node("Quant", ["w2", "ws", "z", "b4"], ["w2q"], name="w2_q", **q),
             helper.make_node("Conv", ["a1", "w2q"], ["c2"], name="user_conv", kernel_shape=[1, 1], pads=[0, 0, 0, 0],
                              group=1, **conv),
             helper.make_node("Quant", ["c2", "so", "z", "b8"], ["y"], name="out_q", **q)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor(k, TensorProto.FLOAT, np.shape(v), np.ravel(v).tolist())
                               for k, v in inits.items()])
    import onnx

    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                      helper.make_opsetid("qonnx.custom_op.general", 1)]), str(path))
    return path


def test_a_per_channel_scale_into_a_dense_conv_is_refused_naming_the_users_conv(tmp_path, capsys):
    from jpq2hw.cli import main

    path = _perchannel_then_conv(tmp_path / "m.onnx", group=1)
    assert main(["build", str(path), "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'user_conv' in the file" in err and "depthwise" in err, err
