"""The mechanisms the Brevitas files of the corpus need, on the real files (cheap: no C++): qonnx channels-last
graphs back to standard NCHW ops, nearest Resize as a channels-last upsampling layer, a pixel shuffle moved to
the host tail, a Relu head split to the host. The full builds are in test_corpus.py (one per file)."""

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.frontend.input_type import parse_input_type
from jpq2hw.frontend.load import load_model
from jpq2hw.normalize.layout import standard_layout
from jpq2hw.normalize.passes import normalize
from testkit.corpus import CORPUS_DIR

# no C++, but qonnx's channels-last pass takes a while on these 128x128 and 256x256 graphs
pytestmark = [pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"the QONNX corpus is not at {CORPUS_DIR}"),
              pytest.mark.slow]


def _execute(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    name = model.graph.input[0].name
    return execute_onnx(model, {name: x})[model.graph.output[0].name]


def test_channels_last_file_computes_the_same_in_standard_layout():
    """The qonnx channels-last Conv/MaxPool (weights [C_out, k, k, C_in/g]) rewritten as standard NCHW ops between
    two Transposes: the same outputs as qonnx's own execution of the file, on an input on its quantizer's grid."""
    path = CORPUS_DIR / "brevitas_sepconv_chlast_perchannel_w8a8.onnx"
    original = load_model(path)
    converted = standard_layout(load_model(path), "sepconv")
    assert not any(n.domain == "qonnx.custom_op.channels_last" for n in converted.graph.node)
    convs = converted.get_nodes_by_op_type("Conv")
    assert {next(a.i for a in c.attribute if a.name == "group") for c in convs} == {1, 3, 32}  # depthwise kept
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 256, 256, 3)).astype(np.float32) / 128
    want, got = _execute(original, x), _execute(converted, x)
    assert got.shape == want.shape == (1, 256, 256, 32)
    assert np.array_equal(got, want) and len(np.unique(want)) > 10


def test_nearest_resize_becomes_a_channels_last_upsampling_and_the_relu_head_goes_to_the_host():
    n = normalize(load_model(CORPUS_DIR / "brevitas_espcn_nnresize_w4a4.onnx"), "nnresize")
    resize = n.hardware.get_nodes_by_op_type("Resize")
    assert len(resize) == 1
    scales = n.hardware.get_initializer(resize[0].input[2])
    assert list(scales) == [1, 2, 2, 1]  # channels-last: H and W doubled
    hw = n.hardware
    ends = {hw.graph.input[0].name, hw.graph.output[0].name}
    for t in hw.get_nodes_by_op_type("Transpose"):  # none left around the Resize: only the graph's NCHW ends
        assert {t.input[0], t.output[0]} & ends
    assert [op["op"] for op in n.head.ops] == ["Relu"]  # the Relu before the input quantizer runs on the host


def test_pixel_shuffle_ends_the_graph_as_a_host_tail():
    """DepthToSpace only moves values: it commutes with the per-tensor Relu and Quant after it, and at the end of
    the graph it is a layout op of the host tail; the hardware ends with the output quantizer."""
    n = normalize(load_model(CORPUS_DIR / "brevitas_espcn_depthtospace_w4a4.onnx"), "d2s",
                  input_type=parse_input_type("uint8*1/255"))
    assert [op["op"] for op in n.tail.ops] == ["DepthToSpace"]
    assert not n.hardware.get_nodes_by_op_type("DepthToSpace")
    assert n.hardware.get_tensor_shape(n.hardware.graph.output[0].name)[1:] == [12, 128, 128]
