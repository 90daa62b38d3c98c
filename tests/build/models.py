"""The test models of the build tests, made node by node (QonnxBuilder) or by a real exporter (Brevitas)."""

from __future__ import annotations

from pathlib import Path

from testkit.qonnx_builder import QonnxBuilder


def sparse_mlp(path: Path, seed: int = 0) -> Path:
    """16 -> 32 -> 10, 90% / 80% sparse, 3- and 6-bit weights, signed 8-bit input, unsigned 4-bit hidden."""
    b = QonnxBuilder([1, 16], in_bits=8, in_signed=True, in_scale_exp=-5, seed=seed)
    x = b.dense(b.x, 32, wbits=3, w_scale_exp=-2, sparsity=0.9, bias=True)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-2)
    x = b.dense(x, 10, wbits=6, w_scale_exp=-5, sparsity=0.8)
    b.save(x, path)
    return path


def conv_stack(path: Path, seed: int = 0) -> Path:
    """3x3 convs with padding and stride 2, dyadic BatchNorm, ReLU, a residual add, max-pool, a dense head;
    2- to 8-bit weights, unsigned and signed activations, 50-90% sparse."""
    b = QonnxBuilder([1, 3, 8, 8], in_bits=8, in_signed=False, in_scale_exp=-8, seed=seed)
    x = b.conv(b.x, 4, k=3, stride=1, pad=1, wbits=4, sparsity=0.5)
    x = b.quant(b.relu(x), 4, signed=False, scale_exp=-3)
    y = b.conv(x, 4, k=3, stride=1, pad=1, wbits=3, sparsity=0.8)
    y = b.quant(b.relu(b.batchnorm(y)), 4, signed=False, scale_exp=-3)
    x = b.quant(b.add(x, y), 5, signed=False, scale_exp=-3)
    x = b.maxpool(x)
    x = b.conv(x, 6, k=3, stride=2, pad=1, wbits=2, sparsity=0.6, bias=True)
    x = b.quant(x, 6, signed=True, scale_exp=-3)
    x = b.dense(b.flatten(x), 5, wbits=8, w_scale_exp=-7, sparsity=0.9, bias=True)
    b.save(x, path)
    return path


def brevitas_mlp(path: Path) -> Path:
    """A Brevitas export with power-of-two (FixedPoint) quantizers: the real-exporter case."""
    import torch
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=6, return_quant_tensor=True),
        qnn.QuantLinear(16, 24, bias=False, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4,
                        return_quant_tensor=True),
        qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=4, return_quant_tensor=True),
        qnn.QuantLinear(24, 5, bias=False, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=5),
    )
    with torch.no_grad():
        layer = model[1]
        layer.weight[torch.rand_like(layer.weight) < 0.8] = 0.0  # a sparse layer, as jpq2hw compress leaves it
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(64, 16))  # calibrate the activation scales
    model.eval()
    export_qonnx(model, torch.randn(1, 16), str(path))
    return path


def brevitas_conv(path: Path) -> Path:
    """A Brevitas conv net (3x3, padding, stride 2, max-pool) with power-of-two quantizers."""
    import torch
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

    torch.manual_seed(1)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True),
        qnn.QuantConv2d(2, 4, 3, padding=1, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                        weight_bit_width=4, return_quant_tensor=True),
        qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=4),
        torch.nn.MaxPool2d(2, 2),
        qnn.QuantIdentity(act_quant=Uint8ActPerTensorFixedPoint, bit_width=4, return_quant_tensor=True),
        qnn.QuantConv2d(4, 4, 3, stride=2, padding=1, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                        weight_bit_width=3, return_quant_tensor=True),
        qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=4),
    )
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 2, 8, 8))
    model.eval()
    export_qonnx(model, torch.randn(1, 2, 8, 8), str(path))
    return path


def brevitas_float_mlp(path: Path) -> Path:
    """Brevitas's default quantizers: float scales, float biases (no power of two anywhere)."""
    import torch
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(16, 24, bias=True, weight_bit_width=4, return_quant_tensor=True),
        qnn.QuantReLU(bit_width=4, return_quant_tensor=True),
        qnn.QuantLinear(24, 10, bias=True, weight_bit_width=4, return_quant_tensor=True),
        qnn.QuantReLU(bit_width=4),
    )
    _calibrate(model, torch.randn(64, 16))
    export_qonnx(model, torch.randn(1, 16), str(path))
    return path


def brevitas_float_conv(path: Path) -> Path:
    """Float scales with per-channel weight scales, an unfolded BatchNorm, float biases, max-pool and a float
    (unquantized) linear tail."""
    import torch
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx
    from brevitas.quant import Int8WeightPerChannelFloat

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantConv2d(2, 4, 3, padding=1, bias=False, weight_bit_width=4, weight_quant=Int8WeightPerChannelFloat),
        torch.nn.BatchNorm2d(4),
        qnn.QuantReLU(bit_width=4, return_quant_tensor=True),
        qnn.QuantConv2d(4, 4, 3, stride=2, padding=1, bias=True, weight_bit_width=3),
        qnn.QuantReLU(bit_width=4, return_quant_tensor=False),
        torch.nn.MaxPool2d(2),
        qnn.QuantIdentity(bit_width=4, return_quant_tensor=True),
        torch.nn.Flatten(),
        qnn.QuantLinear(16, 5, bias=True, weight_bit_width=4),
    )
    _calibrate(model, torch.randn(16, 2, 8, 8))
    export_qonnx(model, torch.randn(1, 2, 8, 8), str(path))
    return path


def _calibrate(model, x) -> None:
    import torch

    model.train()  # BatchNorm statistics and activation scales move away from their defaults
    with torch.no_grad():
        for _ in range(5):
            model(x)
    model.eval()


def brevitas_binary_mlp(path: Path) -> Path:
    """A binary net: +1/-1 weights and activations (BipolarQuant), BatchNorm between, a bipolar output."""
    import torch
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True),
        qnn.QuantLinear(16, 24, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        torch.nn.BatchNorm1d(24),
        qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True),
        qnn.QuantLinear(24, 6, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        torch.nn.BatchNorm1d(6),
        qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
    )
    _calibrate(model, torch.randn(64, 16))
    export_qonnx(model, torch.randn(1, 16), str(path))
    return path


def brevitas_conv1d(path: Path) -> Path:
    """A 1-D CNN (radio-signal style) with BatchNorm and MaxPool1d; float scales on the activations."""
    import torch
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantConv1d(2, 4, 3, padding=1, bias=False, weight_bit_width=4),
        torch.nn.BatchNorm1d(4),
        qnn.QuantReLU(bit_width=4),
        torch.nn.MaxPool1d(2),
        qnn.QuantIdentity(bit_width=4, return_quant_tensor=True),
        torch.nn.Flatten(),
        qnn.QuantLinear(32, 5, bias=True, weight_bit_width=4),
    )
    _calibrate(model, torch.randn(16, 2, 16))
    export_qonnx(model, torch.randn(1, 2, 16), str(path))
    return path
