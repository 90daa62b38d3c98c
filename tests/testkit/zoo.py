"""A zoo of small QONNX models of the kinds people actually have (issue 9).

Each function writes one model file and returns its path. Brevitas exports where Brevitas can make them; the
rest node by node, written the way the exporter in question writes them (QKeras->QONNX: NHWC input, Transpose,
Conv without `pads`, trailing Identity; older Brevitas: Quant in the empty domain without `rounding_mode`; ...).
All models are small so that each compiles in well under a minute. `ZOO` lists them with their kind ("mlp" or
"conv": convs are also checked in io_stream).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper

from testkit.qonnx_builder import QUANT_DOMAIN, QonnxBuilder


# --- Brevitas exports -----------------------------------------------------------------------------------------

def _calibrate(model, x, seed: int = 0) -> None:
    """Give BatchNorm random affine parameters, let train-mode forwards move its statistics and the activation
    scales away from their defaults, then switch to eval (what a trained model looks like at export)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
        model.train()
        for _ in range(5):
            model(x)
    model.eval()


def _export(model, example, path: Path, opset: int | None = None) -> Path:
    """Brevitas's own QONNX export, never edited afterwards: at torch's default opset, or at the one asked for
    through torch's TorchScript exporter (`dynamo=False`, the path PyTorch 1.x took; the default exporter writes
    opset 18 whatever is asked)."""
    from brevitas.export import export_qonnx

    export_qonnx(model, example, str(path), **({"opset_version": opset, "dynamo": False} if opset else {}))
    return path


def brevitas_mlp_w1a1_bn(path: Path) -> Path:
    """Binary MLP (FINN's TFC-w1a1 pattern): 8-bit float-scale input, +1/-1 weights and activations
    (BipolarQuant), BatchNorm1d before each binary activation, float logits."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(16, 24, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        torch.nn.BatchNorm1d(24),
        qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True),
        qnn.QuantLinear(24, 16, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        torch.nn.BatchNorm1d(16),
        qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True),
        qnn.QuantLinear(16, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
    )
    _calibrate(model, torch.randn(64, 16))
    return _export(model, torch.randn(1, 16), path)


def brevitas_mlp_w2a2_bn(path: Path, opset: int | None = None) -> Path:
    """2-bit MLP with Brevitas's default (float-scale) quantizers, BatchNorm1d between each layer and its signed
    2-bit activation, and a BatchNorm1d on the logits (a float tail)."""
    import torch
    import brevitas.nn as qnn

    torch.manual_seed(1)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(16, 24, bias=False, weight_bit_width=2),
        torch.nn.BatchNorm1d(24),
        qnn.QuantIdentity(bit_width=2, return_quant_tensor=True),
        qnn.QuantLinear(24, 16, bias=False, weight_bit_width=2),
        torch.nn.BatchNorm1d(16),
        qnn.QuantIdentity(bit_width=2, return_quant_tensor=True),
        qnn.QuantLinear(16, 10, bias=False, weight_bit_width=2),
        torch.nn.BatchNorm1d(10),
    )
    _calibrate(model, torch.randn(64, 16), seed=1)
    return _export(model, torch.randn(1, 16), path, opset)


def brevitas_mlp_perchannel(path: Path) -> Path:
    """3-bit MLP (keyword-spotting style) with per-channel float weight scales, float biases, 3-bit ReLUs."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import Int8WeightPerChannelFloat

    torch.manual_seed(2)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(20, 24, bias=True, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3,
                        return_quant_tensor=True),
        qnn.QuantReLU(bit_width=3, return_quant_tensor=True),
        qnn.QuantLinear(24, 16, bias=True, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3,
                        return_quant_tensor=True),
        qnn.QuantReLU(bit_width=3, return_quant_tensor=True),
        qnn.QuantLinear(16, 6, bias=True, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3),
    )
    _calibrate(model, torch.randn(64, 20), seed=2)
    return _export(model, torch.randn(1, 20), path)


def brevitas_cnn1d_bn_pool(path: Path, opset: int | None = None) -> Path:
    """8-bit 1-D CNN (radio-signal VGG style): QuantConv1d, BatchNorm1d, QuantReLU, MaxPool1d, twice, then a
    quantized linear classifier. Input [1, 2, 16]."""
    import torch
    import brevitas.nn as qnn

    torch.manual_seed(3)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantConv1d(2, 4, 3, padding=1, bias=False, weight_bit_width=8),
        torch.nn.BatchNorm1d(4),
        qnn.QuantReLU(bit_width=8, return_quant_tensor=False),
        torch.nn.MaxPool1d(2),
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantConv1d(4, 4, 3, padding=1, bias=False, weight_bit_width=8),
        torch.nn.BatchNorm1d(4),
        qnn.QuantReLU(bit_width=8, return_quant_tensor=False),
        torch.nn.MaxPool1d(2),
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        torch.nn.Flatten(),
        qnn.QuantLinear(16, 5, bias=True, weight_bit_width=8),
    )
    _calibrate(model, torch.randn(32, 2, 16), seed=3)
    return _export(model, torch.randn(1, 2, 16), path, opset)


def brevitas_bipolar_out(path: Path) -> Path:
    """2-bit MLP (network-intrusion style) whose output is a bipolar (+1/-1) quantizer."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryActPerTensorConst

    torch.manual_seed(4)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(16, 12, bias=True, weight_bit_width=2),
        torch.nn.BatchNorm1d(12),
        qnn.QuantReLU(bit_width=2, return_quant_tensor=True),
        qnn.QuantLinear(12, 1, bias=True, weight_bit_width=2),
        qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
    )
    _calibrate(model, torch.randn(64, 16), seed=4)
    return _export(model, torch.randn(1, 16), path)


# --- node-by-node QONNX (exporters Brevitas cannot stand in for) ----------------------------------------------

def _quant_node(inputs_and_consts, out, name, domain=QUANT_DOMAIN, rounding=True, **attrs):
    kw = dict(signed=attrs.get("signed", 1), narrow=attrs.get("narrow", 0))
    if rounding:
        kw["rounding_mode"] = "ROUND"
    return helper.make_node("Quant", inputs_and_consts, [out], name=name, domain=domain, **kw)


def _init(name, value):
    return helper.make_tensor(name, TensorProto.FLOAT, np.shape(value), np.asarray(value, np.float32).ravel().tolist())


def _model(nodes, inits, inputs, outputs, domains=(QUANT_DOMAIN,), producer="", opset=13):
    graph = helper.make_graph(nodes, "zoo", inputs, outputs, inits)
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains if d]
    model = helper.make_model(graph, opset_imports=ops, producer_name=producer)
    model.ir_version = 8
    return model


def qkeras_cnn_nhwc_sigmoid(path: Path, seed: int = 0) -> Path:
    """What a QKeras->QONNX conversion writes for a small 8/4/16-bit MNIST-style CNN: NHWC input [1, 8, 8, 1],
    the input quantizer on the NHWC tensor, a Transpose to NCHW, Conv and MaxPool without a `pads` attribute
    (valid padding, the ONNX default), quantized biases, a Transpose back to NHWC and a Reshape flatten, a dense
    layer with a 16-bit output quantizer, a Sigmoid head and a trailing Identity. Power-of-two scales
    (quantized_bits with alpha=1)."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def const(name, v):
        inits.append(_init(name, v))
        return name

    def quant(x, out, bits, scale_exp, signed=True, narrow=False):
        nodes.append(_quant_node([x, const(out + "_scale", np.float32(2.0**scale_exp)),
                                  const(out + "_zeropt", np.float32(0)), const(out + "_bitwidth", np.float32(bits))],
                                 out, out.replace("_q", "") + "_Quant", signed=int(signed), narrow=int(narrow)))
        return out

    w1 = rng.integers(-7, 8, size=[4, 1, 3, 3]) * 2.0**-3
    b1 = rng.integers(-64, 64, size=[4]) * 2.0**-7
    w2 = rng.integers(-7, 8, size=[36, 1]) * 2.0**-3
    b2 = rng.integers(-64, 64, size=[1]) * 2.0**-7
    x = quant("input_1", "input_1_q", 8, -8, signed=False)
    nodes.append(helper.make_node("Transpose", [x], ["input_nchw"], name="input_transpose", perm=[0, 3, 1, 2]))
    wq = quant(const("conv2d_kernel", w1), "conv2d_kernel_q", 4, -3)
    bq = quant(const("conv2d_bias", b1), "conv2d_bias_q", 8, -7)
    nodes.append(helper.make_node("Conv", ["input_nchw", wq, bq], ["conv2d_out"], name="conv2d",
                                  kernel_shape=[3, 3], strides=[1, 1], dilations=[1, 1], group=1))  # no pads
    nodes.append(helper.make_node("Relu", ["conv2d_out"], ["conv2d_relu"], name="conv2d_relu_op"))
    a1 = quant("conv2d_relu", "act1_q", 4, -2, signed=False)
    nodes.append(helper.make_node("MaxPool", [a1], ["pool_out"], name="max_pooling2d",
                                  kernel_shape=[2, 2], strides=[2, 2]))  # no pads
    nodes.append(helper.make_node("Transpose", ["pool_out"], ["pool_nhwc"], name="pool_transpose", perm=[0, 2, 3, 1]))
    inits.append(helper.make_tensor("flatten_shape", TensorProto.INT64, [2], [-1, 36]))
    nodes.append(helper.make_node("Reshape", ["pool_nhwc", "flatten_shape"], ["flat"], name="flatten"))
    wq2 = quant(const("dense_kernel", w2), "dense_kernel_q", 4, -3)
    nodes.append(helper.make_node("MatMul", ["flat", wq2], ["dense_mm"], name="dense_MatMul"))
    bq2 = quant(const("dense_bias", b2), "dense_bias_q", 8, -7)
    nodes.append(helper.make_node("Add", ["dense_mm", bq2], ["dense_out"], name="dense_BiasAdd"))
    a2 = quant("dense_out", "dense_act_q", 16, -10)
    nodes.append(helper.make_node("Sigmoid", [a2], ["sigmoid_out"], name="sigmoid"))
    nodes.append(helper.make_node("Identity", ["sigmoid_out"], ["output_1"], name="Identity"))
    model = _model(nodes, inits, [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 8, 8, 1])],
                   [helper.make_tensor_value_info("output_1", TensorProto.FLOAT, [1, 1])], producer="qkeras2onnx")
    onnx.save(model, str(path))
    return path


def old_domain_quant_empty(path: Path) -> Path:
    """A Brevitas float-scale MLP as older Brevitas wrote it: Quant nodes in the empty domain, no
    `rounding_mode` attribute (made from a current export by rewriting the nodes)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = _brevitas_float_mlp(Path(tmp) / "src.onnx")
        model = onnx.load(str(src))
    for node in model.graph.node:
        if node.op_type == "Quant":
            node.domain = ""
            for i, a in enumerate(node.attribute):
                if a.name == "rounding_mode":
                    del node.attribute[i]
                    break
    keep = [o for o in model.opset_import if o.domain not in ("qonnx.custom_op.general", "onnx.brevitas")]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    onnx.save(model, str(path))
    return path


def _brevitas_float_mlp(path: Path) -> Path:
    import torch
    import brevitas.nn as qnn

    torch.manual_seed(5)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(16, 20, bias=True, weight_bit_width=4, return_quant_tensor=True),
        qnn.QuantReLU(bit_width=4, return_quant_tensor=True),
        qnn.QuantLinear(20, 8, bias=True, weight_bit_width=4),
    )
    _calibrate(model, torch.randn(64, 16), seed=5)
    return _export(model, torch.randn(1, 16), path)


def old_domain_quant_finn(path: Path, seed: int = 1) -> Path:
    """An MLP with power-of-two scales whose Quant nodes are in the old `finn.custom_op.general` domain,
    without `rounding_mode`."""
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=-4, seed=seed)
    x = b.dense(b.x, 20, wbits=4, sparsity=0.3, bias=True)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-2)
    x = b.dense(x, 8, wbits=4, sparsity=0.3)
    x = b.quant(x, 8, signed=True, scale_exp=-3)
    model = b.build(x).model
    for node in model.graph.node:
        if node.op_type == "Quant":
            node.domain = "finn.custom_op.general"
            keep = [a for a in node.attribute if a.name != "rounding_mode"]
            del node.attribute[:]
            node.attribute.extend(keep)
    for o in model.opset_import:
        if o.domain == QUANT_DOMAIN:
            o.domain = "finn.custom_op.general"
    onnx.save(model, str(path))
    return path


def squeeze_distance_head(path: Path, seed: int = 2) -> Path:
    """A quantized embedding MLP with a distance head: Unsqueeze the embedding [1, 8] to [1, 1, 8], subtract four
    class prototypes [4, 8], square, ReduceSum over the embedding (keepdims) and Squeeze to [1, 4]."""
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=-4, seed=seed)
    x = b.dense(b.x, 16, wbits=4, sparsity=0.3, bias=True)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-2)
    x = b.quant(b.dense(x, 8, wbits=4, sparsity=0.3), 6, signed=True, scale_exp=-2)
    protos = b.rng.normal(size=[4, 8]).astype(np.float32)
    c = lambda name, v, dt=None: (b.inits.append(helper.make_tensor(name, TensorProto.INT64, [len(v)], v)) or name) \
        if dt == "i64" else b._const(name, v)
    b.nodes += [
        helper.make_node("Unsqueeze", [x, c("unsq_axes", [1], "i64")], ["emb3"], name="unsqueeze_emb"),
        helper.make_node("Sub", ["emb3", c("prototypes", protos)], ["diff"], name="sub_prototypes"),
        helper.make_node("Mul", ["diff", "diff"], ["sq"], name="square"),
        helper.make_node("ReduceSum", ["sq", c("sum_axes", [2], "i64")], ["dist3"], name="reduce_sum", keepdims=1),
        helper.make_node("Squeeze", ["dist3", c("sq_axes", [2], "i64")], ["dist"], name="squeeze_dist"),
    ]
    b.shapes["dist"] = [1, 4]
    b.save("dist", path)
    return path


def unsqueeze_sub_squeeze_head(path: Path, seed: int = 2) -> Path:
    """A quantized MLP whose float tail is an Unsqueeze to [1, 1, 8], a Sub of a constant [1, 1, 8] (a centre)
    and a Squeeze back to [1, 8]: the Sub/Squeeze kind of head that PyTorch exports write."""
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=-4, seed=seed)
    x = b.dense(b.x, 16, wbits=4, sparsity=0.3, bias=True)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-2)
    x = b.quant(b.dense(x, 8, wbits=4, sparsity=0.3), 6, signed=True, scale_exp=-2)
    b.inits.append(helper.make_tensor("axes_1", TensorProto.INT64, [1], [1]))
    centre = b.rng.normal(size=[1, 1, 8]).astype(np.float32)
    b.nodes += [
        helper.make_node("Unsqueeze", [x, "axes_1"], ["emb3"], name="unsqueeze_emb"),
        helper.make_node("Sub", ["emb3", b._const("centre", centre)], ["diff"], name="sub_centre"),
        helper.make_node("Squeeze", ["diff", "axes_1"], ["out"], name="squeeze_out"),
    ]
    b.shapes["out"] = [1, 8]
    b.save("out", path)
    return path


def finn_datatype_input(path: Path, seed: int = 3) -> Path:
    """An MLP whose input has no Quant node: its type is a `finn_datatype` quantization annotation (UINT8) on
    the graph input, as FINN-era tools write it; the input carries raw integers 0..255."""
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=False, in_scale_exp=0, seed=seed)
    first = b.nodes.pop(0)  # drop the input Quant: the graph input itself is UINT8
    b.inits = [i for i in b.inits if i.name not in first.input]
    b.x = "x"
    x = b.dense(b.x, 12, wbits=4, w_scale_exp=-3, sparsity=0.3)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=1)
    x = b.dense(x, 6, wbits=4, sparsity=0.3)
    model = b.build(x).model
    ann = onnx.TensorAnnotation(tensor_name="x")
    ann.quant_parameter_tensor_names.add(key="finn_datatype", value="UINT8")
    model.graph.quantization_annotation.append(ann)
    onnx.save(model, str(path))
    return path


def wide_act_10bit(path: Path, seed: int = 4) -> Path:
    """An MLP with a 10-bit signed activation quantizer between layers (power-of-two scale)."""
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=-4, seed=seed)
    x = b.dense(b.x, 12, wbits=6, w_scale_exp=-5, sparsity=0.2, bias=True)
    x = b.quant(x, 10, signed=True, scale_exp=-5)
    x = b.quant(b.relu(x), 10, signed=False, scale_exp=-5)
    x = b.dense(x, 6, wbits=6, w_scale_exp=-5, sparsity=0.2)
    x = b.quant(x, 10, signed=True, scale_exp=-4)
    b.save(x, path)
    return path


def wide_act_16bit(path: Path, seed: int = 5) -> Path:
    """An MLP with 16-bit activation quantizers (a 16-bit input and a 16-bit hidden activation)."""
    b = QonnxBuilder([1, 16], in_bits=16, in_signed=True, in_scale_exp=-10, seed=seed)
    x = b.dense(b.x, 12, wbits=8, w_scale_exp=-7, sparsity=0.2, bias=True, bias_scale_exp=-8)
    x = b.quant(b.relu(x), 16, signed=False, scale_exp=-10)
    x = b.dense(x, 6, wbits=8, w_scale_exp=-7, sparsity=0.2)
    x = b.quant(x, 16, signed=True, scale_exp=-8)
    b.save(x, path)
    return path


ZOO: dict[str, tuple[Callable[[Path], Path], str]] = {
    "brevitas_mlp_w1a1_bn": (brevitas_mlp_w1a1_bn, "mlp"),
    "brevitas_mlp_w2a2_bn": (brevitas_mlp_w2a2_bn, "mlp"),
    "brevitas_mlp_perchannel": (brevitas_mlp_perchannel, "mlp"),
    "brevitas_cnn1d_bn_pool": (brevitas_cnn1d_bn_pool, "conv"),
    "brevitas_bipolar_out": (brevitas_bipolar_out, "mlp"),
    "qkeras_cnn_nhwc_sigmoid": (qkeras_cnn_nhwc_sigmoid, "conv"),
    "old_domain_quant_empty": (old_domain_quant_empty, "mlp"),
    "old_domain_quant_finn": (old_domain_quant_finn, "mlp"),
    "squeeze_distance_head": (squeeze_distance_head, "mlp"),
    "unsqueeze_sub_squeeze_head": (unsqueeze_sub_squeeze_head, "mlp"),
    "finn_datatype_input": (finn_datatype_input, "mlp"),
    "wide_act_10bit": (wide_act_10bit, "mlp"),
    "wide_act_16bit": (wide_act_16bit, "mlp"),
}


def make(name: str, folder: Path) -> Path:
    """Write zoo model `name` into `folder` as `<name>.onnx` and return its path."""
    fn, _ = ZOO[name]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return fn(folder / f"{name}.onnx")


def make_all(folder: Path) -> dict[str, Path]:
    return {name: make(name, folder) for name in ZOO}
