"""Conv nets FINN and Brevitas users build, exported here by Brevitas 0.13.4 (tests/testkit/brevitas_finn.py):
quantized average pooling (Trunc), per-channel activation scales, bipolar-weight convs with BatchNorm.

Each build must be bit-exact (its C-simulation against its own reference on random vectors), and, independently,
the build's outputs for inputs drawn here with another generator (passed as --input-data) must equal qonnx's own
executor on the unmodified file, exactly in float32 (each model ends in an activation quantizer).
"""

import json

import numpy as np
import onnx
import pytest

from jpq2hw.build import BuildOptions, run_build
from testkit import brevitas_finn

N_OWN = 6  # inputs the test draws itself, besides the build's random vectors


def _input_grid(path):
    """The scale and signedness of the file's input QuantIdentity (8 bits)."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    quant = next(n for n in model.graph.node if n.input and n.input[0] == model.graph.input[0].name)
    signed = next(a.i for a in quant.attribute if a.name == "signed")
    return float(inits[quant.input[1]]), int(inits[quant.input[3]]), bool(signed)


def _qonnx_outputs(path, xs):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(str(path))
    name, out = model.graph.input[0].name, model.graph.output[0].name
    return np.stack([execute_onnx(model, {name: x[None].astype(np.float32)})[out][0] for x in xs])


def build_and_check_independently(path, tmp_path, vectors=8):
    scale, bits, signed = _input_grid(path)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    shape = [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim][1:]
    own = np.random.default_rng(2024).integers(lo, hi + 1, size=[N_OWN, *shape]) * scale  # exact in float64
    np.save(tmp_path / "own.npy", own)
    code = run_build(BuildOptions(model=path, out=tmp_path / "o", quiet=True, vectors=vectors,
                                  input_data=tmp_path / "own.npy"))[0]
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["mismatched_vectors"] == 0, (report["max_abs_error"], report["first_divergent_layer"])
    assert code == 0 and report["bit_exact"] and report["vectors"] == vectors + N_OWN
    inputs = np.load(tmp_path / "o" / "vectors" / "inputs.npy")[-N_OWN:]
    assert np.array_equal(inputs, own)  # the build checked the inputs drawn here
    expected = np.load(tmp_path / "o" / "vectors" / "expected.npy")[-N_OWN:]
    want = _qonnx_outputs(path, own)
    assert len(np.unique(want)) > 4  # not a constant output
    assert np.array_equal(expected.astype(np.float32), want), np.max(np.abs(expected - want))
    return report


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet_block_truncavgpool", "mobilenet_block_perchannel_act", "cnv_w1a1",
                                  "cnv_w1a2"])
def test_brevitas_conv_net_is_bit_exact_and_agrees_with_qonnx(name, tmp_path):
    path = brevitas_finn.make(name, tmp_path)
    build_and_check_independently(path, tmp_path)
