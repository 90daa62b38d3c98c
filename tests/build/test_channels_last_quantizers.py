"""Channels-last conversion through per-channel and 1-bit quantizers (jpq2hw/normalize/channels_last.py), and the
per-channel scale a depthwise conv takes, without g++: the normalized hardware graph run by qonnx's executor gives
the reference's codes, and the reference equals qonnx's executor on the unmodified Brevitas export."""

import contextlib
import io

import numpy as np
import pytest

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
