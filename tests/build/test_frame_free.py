"""jpq2hw/normalize/frame_free.py: its shape rules for qonnx's channels-last ops infer what qonnx's own
(tensor-building) methods infer, its lazy folding context holds what qonnx's holds, and a normalization with
them gives the same graphs, byte for byte, as one with qonnx's own methods."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes

from jpq2hw.normalize import frame_free

ROOT = Path(__file__).resolve().parents[2]
CL = "qonnx.custom_op.channels_last"


def _one_node(op, in_shape, attrs, w_shape=None):
    inputs = ["x"]
    inits = []
    if op == "Conv":
        inputs.append("w")
        inits.append(helper.make_tensor("w", TensorProto.FLOAT, w_shape, np.zeros(int(np.prod(w_shape)))))
    if op == "BatchNormalization":
        c = in_shape[-1]
        for name in ("s", "b", "m", "v"):
            inputs.append(name)
            inits.append(helper.make_tensor(name, TensorProto.FLOAT, [c], np.ones(c)))
    node = helper.make_node(op, inputs, ["y"], domain=CL, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(CL, 1)])
    return ModelWrapper(model)


CASES = [
    ("Conv", [1, 17, 23, 3], dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=1),
     [8, 3, 3, 3]),
    ("Conv", [1, 17, 23, 3], dict(kernel_shape=[5, 3], strides=[2, 3], pads=[2, 0, 1, 1], dilations=[1, 2], group=1),
     [4, 5, 3, 3]),
    ("Conv", [1, 31, 6], dict(kernel_shape=[4], strides=[2], pads=[1, 2], dilations=[1], group=1), [5, 4, 6]),
    ("MaxPool", [1, 16, 22, 5], dict(kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]), None),
    ("MaxPool", [1, 15, 21, 5], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), None),
    ("MaxPool", [1, 19, 7], dict(kernel_shape=[3], strides=[3], pads=[1, 1]), None),
    ("BatchNormalization", [1, 9, 11, 4], dict(epsilon=1e-5, momentum=0.9), None),
]


@pytest.mark.parametrize("op,in_shape,attrs,w_shape", CASES)
def test_rule_infers_qonnx_shape(op, in_shape, attrs, w_shape):
    frame_free.install()
    ours = _one_node(op, in_shape, attrs, w_shape).transform(InferShapes())
    with frame_free.qonnx_own_methods():
        theirs = _one_node(op, in_shape, attrs, w_shape).transform(InferShapes())
    assert ours.get_tensor_shape("y") == theirs.get_tensor_shape("y") is not None
    # the swapped node came back: the graph holds the channels-last op again, not the shape stand-in
    assert [(n.op_type, n.domain) for n in ours.graph.node] == [(op, CL)]


def test_uneven_pool_padding_still_refused():
    frame_free.install()
    model = _one_node("MaxPool", [1, 8, 8, 2], dict(kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1]))
    with pytest.raises(AssertionError, match="Uneven padding"):
        model.transform(InferShapes())


@pytest.mark.parametrize("path,input_type", [
    (ROOT / "examples/digits/digits_cnn.onnx", None),
    ("sepconv_32x32", None),
])
def test_normalization_gives_the_same_graphs(path, input_type, tmp_path):
    """Normalization with the shape rules and with qonnx's own methods: the same reference and hardware graphs.
    The corpus file (a Brevitas export that qonnx made channels-last, per-channel scales) is fully convolutional:
    re-declared at 32x32, where qonnx's own methods take seconds instead of minutes."""
    from jpq2hw import extensions
    from jpq2hw.frontend.load import load_model
    from jpq2hw.normalize.passes import normalize
    from testkit.corpus import CORPUS_DIR
    from testkit.frames import at_frame

    if path == "sepconv_32x32":
        source = CORPUS_DIR / "brevitas_sepconv_chlast_perchannel_w8a8.onnx"
        if not source.exists():
            pytest.skip(f"{source} is absent (the corpus lives in ../shared/corpus)")
        path = tmp_path / "sepconv_32x32.onnx"
        onnx.save(at_frame(onnx.load(str(source)), 32, 32), str(path))
    extensions.register_all()
    ours = normalize(load_model(str(path)), str(path), input_type=input_type)
    with frame_free.qonnx_own_methods():
        theirs = normalize(load_model(str(path)), str(path), input_type=input_type)
    for part in ("reference", "hardware"):
        a, b = getattr(ours, part).model, getattr(theirs, part).model
        assert a.SerializeToString() == b.SerializeToString(), part


def test_lazy_context_holds_what_qonnx_context_holds():
    """Every tensor a folding pass can read: the same array (value, shape, dtype) as qonnx's eager context."""
    from jpq2hw.frontend.load import load_model

    model = load_model(str(ROOT / "examples/digits/digits_cnn.onnx")).transform(InferShapes())
    eager = model.make_empty_exec_context()
    lazy = frame_free.LazyExecContext(model)
    assert len(lazy) < len(eager)  # activations are not made until read
    for name, value in eager.items():
        got = lazy[name]
        if value is None:
            assert got is None
        else:
            assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value), name
    with pytest.raises(KeyError):
        lazy["no such tensor"]
