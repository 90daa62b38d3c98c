"""Every refusal names a node or tensor of the user's own file (README: "its name in your file"), also when the
refused node is one normalization made or remade (qonnx's channels-last conversion renames and rebuilds nodes)."""

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from jpq2hw.cli import main


def perchannel_model(path, tail):
    """Quant (8-bit) -> Conv 3x3 -> Quant 'perchannel_act' with one scale per channel [1, 4, 1, 1] -> `tail`:
    "conv": a dense 1x1 Conv 'user_conv'; "flatten": Flatten 'user_flatten' -> MatMul 'user_dense';
    "zeropoint": as "conv" with a nonzero zero point on 'perchannel_act'. Then an output Quant."""
    rng = np.random.default_rng(0)
    inits = {"s": np.float32(0.013), "z": np.float32(0), "b8": np.float32(8), "b4": np.float32(4),
             "ws": np.float32(0.1), "so": np.float32(0.07), "zp": np.float32(1 if tail == "zeropoint" else 0),
             "w1": (rng.integers(-7, 8, [4, 4, 3, 3]) * 0.1).astype(np.float32),
             "w2": (rng.integers(-7, 8, [4, 4, 1, 1]) * 0.1).astype(np.float32),
             "wd": (rng.integers(-7, 8, [64, 3]) * 0.1).astype(np.float32),
             "pc": np.array([0.02, 0.05, 0.011, 0.3], np.float32).reshape(1, 4, 1, 1)}
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    conv = dict(strides=[1, 1], dilations=[1, 1], group=1)
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b8"], ["xq"], name="in_q", **q),
             helper.make_node("Quant", ["w1", "ws", "z", "b4"], ["w1q"], name="w1_q", **q),
             helper.make_node("Conv", ["xq", "w1q"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              **conv),
             helper.make_node("Quant", ["c1", "pc", "zp", "b4"], ["a1"], name="perchannel_act", **q)]
    if tail == "flatten":
        nodes += [helper.make_node("Flatten", ["a1"], ["f"], name="user_flatten", axis=1),
                  helper.make_node("Quant", ["wd", "ws", "z", "b4"], ["wdq"], name="wd_q", **q),
                  helper.make_node("MatMul", ["f", "wdq"], ["c2"], name="user_dense")]
        out = [1, 3]
    else:
        nodes += [helper.make_node("Quant", ["w2", "ws", "z", "b4"], ["w2q"], name="w2_q", **q),
                  helper.make_node("Conv", ["a1", "w2q"], ["c2"], name="user_conv", kernel_shape=[1, 1],
                                   pads=[0, 0, 0, 0], **conv)]
        out = [1, 4, 4, 4]
    nodes.append(helper.make_node("Quant", ["c2", "so", "z", "b8"], ["y"], name="out_q", **q))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
                              [helper.make_tensor(k, TensorProto.FLOAT, np.shape(v), np.ravel(v).tolist())
                               for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                      helper.make_opsetid("qonnx.custom_op.general", 1)]), str(path))
    return path


def _names_in_file(path) -> set[str]:
    g = onnx.load(str(path)).graph
    return ({n.name for n in g.node} | {t for n in g.node for t in list(n.input) + list(n.output)}
            | {i.name for i in g.initializer}) - {""}


@pytest.mark.parametrize("tail,words", [
    ("conv", ["'user_conv' in the file", "depthwise"]),  # the user's Conv, renamed by cleanup
    ("flatten", ["after 'perchannel_act' in the file", "per-channel"]),  # a Flatten qonnx rebuilt
    ("zeropoint", ["'perchannel_act' in the file", "zero point"]),
])
def test_refusal_names_a_node_of_the_users_file(tmp_path, capsys, tail, words):
    path = perchannel_model(tmp_path / "m.onnx", tail)
    assert main(["build", str(path), "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
    quoted = set(re.findall(r"'([^']+)'", err))
    assert quoted & _names_in_file(path), err


def _float_input_conv(path, shape):
    """A float input of `shape` straight into a Conv with quantized weights, then a 4-bit quantizer."""
    chans = shape[1]
    w = (np.random.default_rng(1).integers(-7, 8, [2, chans, 3, 3]) * 0.125).astype(np.float32)
    inits = {"w": w, "ws": np.float32(0.125), "z": np.float32(0), "b4": np.float32(4), "s": np.float32(0.25)}
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    nodes = [helper.make_node("Quant", ["w", "ws", "z", "b4"], ["wq"], name="w_q", **q),
             helper.make_node("Conv", ["x", "wq"], ["c"], name="first_conv", kernel_shape=[3, 3], pads=[0, 0, 0, 0],
                              strides=[1, 1], dilations=[1, 1], group=1),
             helper.make_node("Quant", ["c", "s", "z", "b4"], ["y"], name="act_q", **q)]
    out = [1, 2, shape[2] - 2, shape[3] - 2]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
                              [helper.make_tensor(k, TensorProto.FLOAT, np.shape(v), np.ravel(v).tolist())
                               for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                      helper.make_opsetid("qonnx.custom_op.general", 1)]), str(path))
    return path


@pytest.mark.parametrize("shape,want", [([1, 3, 8, 8], "uint8*1/255"),  # an RGB image: 8-bit pixels in [0, 1]
                                        ([1, 16, 8, 8], "fixed<4,2>")])  # not an image: the first quantizer's grid
def test_input_type_suggestion_comes_from_the_input(tmp_path, capsys, shape, want):
    from jpq2hw.frontend.input_type import parse_input_type

    path = _float_input_conv(tmp_path / "m.onnx", shape)
    assert main(["build", str(path), "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    suggested = err.split("--input-type ")[1].split()[0]
    assert suggested == want, err
    parse_input_type(suggested)  # a valid option value


def test_an_hls4ml_key_error_names_the_users_node():
    """hls4ml's bare KeyError 'Reshape_0' (a name it looked up) becomes a sentence naming the node in the file."""
    from qonnx.core.modelwrapper import ModelWrapper

    from jpq2hw.convert.hls4ml_convert import _conversion_error
    from jpq2hw.frontend.node_names import SOURCE_NAME_KEY

    node = helper.make_node("Reshape", ["a", "shape"], ["b"], name="Reshape_0")
    node.metadata_props.add(key=SOURCE_NAME_KEY, value="flatten")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 2, 2])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])])
    msg = _conversion_error(ModelWrapper(helper.make_model(graph)), KeyError("Reshape_0"))
    assert msg == "KeyError: no entry for 'Reshape_0' in hls4ml's tables at node 'Reshape_0' (Reshape, 'flatten' in the file)"
    assert _conversion_error(ModelWrapper(helper.make_model(graph)), ValueError("bad\nmore")) == "ValueError: bad"
