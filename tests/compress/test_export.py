"""Export round trip: torch quantized forward == qonnx execute_onnx == onnxruntime after QCDQ,
bit for bit, on inputs on the input quantizer's grid.

The models are small on purpose: onnxruntime accumulates in float32, which is exact only while
every partial sum fits 24 mantissa bits (|sum| / (input_scale * weight_scale) < 2^24)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ

from jpq2hw.compress import CompressConfig, prepare_model, to_qonnx
from jpq2hw.compress.export import QUANT_DOMAIN, read_metadata
from jpq2hw.compress.masks import enforce, set_masks
from jpq2hw.compress.pipeline import _calibrate
from jpq2hw.compress.qmodules import weight_layers
from jpq2hw.errors import JpqError


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 4))


def conv_stride_pad():
    return nn.Sequential(nn.Conv2d(2, 6, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, padding=1, bias=False),
                         nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))


def conv_maxpool():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, (3, 1), padding=(1, 0)),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 2 * 2, 3))


class ConvTransposeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(self.act(self.down(x)))


CASES = {
    "mlp": (mlp, (16, 1, 4, 4), False),
    "conv_stride2_pad": (conv_stride_pad, (16, 2, 8, 8), True),
    "conv_maxpool": (conv_maxpool, (16, 2, 8, 8), False),
    "conv_transpose": (ConvTransposeNet, (16, 2, 8, 8), True),
}


def quantized(build, shape, signed_input, weight_bits=4, sparsity=0.6, seed=0):
    torch.manual_seed(seed)
    cfg = CompressConfig(weight_bits=weight_bits, act_bits=6, input_bits=8, input_signed=signed_input)
    model = prepare_model(build(), cfg)
    with torch.no_grad():
        for layer in weight_layers(model).values():
            if layer.bias is not None:
                layer.bias.uniform_(-0.5, 0.5)
    set_masks(model, {n: (torch.rand_like(l.weight) > sparsity).float() for n, l in weight_layers(model).items()})
    enforce(model)
    data = [(torch.randn(shape) if signed_input else torch.rand(shape), None) for _ in range(3)]
    _calibrate(model, data, 3)
    model.eval()
    return model


def grid_input(model, shape, signed, seed=1):
    """Random integers of the input quantizer's range times its scale: exactly on the grid."""
    q = model.input_quant
    g = torch.Generator().manual_seed(seed)
    lo, hi = (-(2 ** (q.bits - 1)), 2 ** (q.bits - 1) - 1) if signed else (0, 2**q.bits - 1)
    return torch.randint(lo, hi + 1, shape, generator=g).float() * q.scale


@pytest.mark.parametrize("case", sorted(CASES))
def test_three_executors_bit_identical(case, tmp_path):
    build, shape, signed = CASES[case]
    model = quantized(build, shape, signed)
    x = grid_input(model, shape, signed)
    with torch.no_grad():
        expected = model(x).numpy()

    wrapper = to_qonnx(model, x, tmp_path / "m.onnx")
    in_name = wrapper.graph.input[0].name
    out_name = wrapper.graph.output[0].name
    got_qonnx = execute_onnx(wrapper, {in_name: x.numpy()})[out_name]
    assert np.array_equal(got_qonnx, expected)

    lowered = ModelWrapper(str(tmp_path / "m.onnx")).transform(QuantToQCDQ())
    assert not [n for n in lowered.graph.node if n.op_type == "Quant"], "every Quant must lower to QCDQ"
    sess = ort.InferenceSession(lowered.model.SerializeToString(), providers=["CPUExecutionProvider"])
    got_ort = sess.run(None, {lowered.graph.input[0].name: x.numpy()})[0]
    assert np.array_equal(got_ort, expected)
    assert np.abs(expected).max() > 0  # not trivially all zero


def test_graph_follows_the_documented_format(tmp_path):
    build, shape, signed = CASES["conv_stride2_pad"]
    model = quantized(build, shape, signed)
    wrapper = to_qonnx(model, grid_input(model, shape, signed), tmp_path / "m.onnx")
    onnx.checker.check_model(wrapper.model)
    nodes = list(wrapper.graph.node)
    first = nodes[0]
    assert first.op_type == "Quant" and first.input[0] == wrapper.graph.input[0].name
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in wrapper.graph.initializer}
    for node in nodes:
        if node.op_type == "Quant":
            assert node.domain == QUANT_DOMAIN
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs["rounding_mode"] in (b"ROUND", "ROUND")
            scale, zeropt, bits = (inits[n] for n in node.input[1:])
            assert scale.ndim == 0 and np.log2(scale) == np.round(np.log2(scale))
            assert zeropt == 0 and 2 <= bits <= 8
        if node.op_type == "Conv":
            attrs = {a.name for a in node.attribute}
            assert {"kernel_shape", "strides", "pads", "dilations", "group"} <= attrs
    assert not [n for n in inits if n.endswith("_mask")]
    meta = read_metadata(wrapper)
    layers = [l for l in meta["layers"] if l["type"] != "QuantAct"]
    assert len(layers) == 3 and all(0.3 < l["sparsity"] < 0.9 for l in layers)
    # masks are implied by zeros: every pruned weight is 0 in the file
    for layer_info, layer in zip(layers, weight_layers(model).values()):
        w = inits[layer_info["onnx_weight"]]
        w = w.T if layer_info["type"] == "QuantLinear" else w
        assert np.all(w[layer.weight_mask.numpy() == 0] == 0)


def test_export_refuses_a_float_model(tmp_path):
    model = prepare_model(mlp(), CompressConfig())
    with pytest.raises(JpqError, match="quantization is off"):
        to_qonnx(model, torch.rand(1, 1, 4, 4), tmp_path / "m.onnx")
