"""Conv nets of the kinds FINN and Brevitas users start from, exported here by Brevitas itself (never edited):
a ResNet-style block with quantized average pooling (TruncAvgPool2d), a MobileNet-style block with per-channel
activation scales, and CNV-style nets with 1-bit (bipolar) weights, BatchNorm and 1- or 2-bit activations.
Each ends in an activation quantizer, so its output is exact in float32 and qonnx's executor on the file is an
independent check of the build's numbers. Each function writes one file and returns its path.
"""

from __future__ import annotations

from pathlib import Path

from testkit.zoo import _calibrate, _export


def resnet_block_truncavgpool(path: Path) -> Path:
    """8-bit input, a residual block (two 4-bit convs with BatchNorm, one shared quantizer on both branches of the
    Add), TruncAvgPool2d 2x2 (a shift) and 3x3 (a window of 9: a divide), a 4-bit linear head, an 8-bit output.
    Input [1, 3, 12, 12]."""
    import torch
    import brevitas.nn as qnn

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.stem = qnn.QuantConv2d(3, 4, 3, padding=1, bias=False, weight_bit_width=4)
            self.bn0 = torch.nn.BatchNorm2d(4)
            self.relu0 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.conv1 = qnn.QuantConv2d(4, 4, 3, padding=1, bias=False, weight_bit_width=4)
            self.bn1 = torch.nn.BatchNorm2d(4)
            self.shared = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)  # both Add inputs: one scale
            self.relu1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.pool2 = qnn.TruncAvgPool2d(kernel_size=2, stride=2, bit_width=4, return_quant_tensor=True)
            self.pool3 = qnn.TruncAvgPool2d(kernel_size=3, stride=3, bit_width=4, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(16, 5, bias=False, weight_bit_width=4)
            self.out = qnn.QuantIdentity(bit_width=8)

        def forward(self, x):
            x = self.relu0(self.bn0(self.stem(self.inp(x))))
            y = self.shared(self.bn1(self.conv1(x)))
            x = self.relu1(self.shared(x) + y)
            x = self.pool3(self.pool2(x))
            return self.out(self.fc(torch.flatten(x, 1)))

    torch.manual_seed(10)
    model = Block()
    _calibrate(model, torch.randn(16, 3, 12, 12), seed=10)
    return _export(model, torch.randn(1, 3, 12, 12), path)


def mobilenet_block_perchannel_act(path: Path) -> Path:
    """8-bit input, a 4-bit conv with BatchNorm into a QuantReLU with one scale per channel (Brevitas's
    per-channel activation scaling), a depthwise 3x3 conv with BatchNorm and a per-tensor QuantReLU, a pointwise
    conv, an 8-bit output. Input [1, 3, 8, 8]."""
    import torch
    import brevitas.nn as qnn

    torch.manual_seed(11)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantConv2d(3, 8, 3, padding=1, bias=False, weight_bit_width=4),
        torch.nn.BatchNorm2d(8),
        qnn.QuantReLU(bit_width=4, scaling_per_output_channel=True, per_channel_broadcastable_shape=(1, 8, 1, 1),
                      scaling_stats_permute_dims=(1, 0, 2, 3), return_quant_tensor=True),
        qnn.QuantConv2d(8, 8, 3, padding=1, groups=8, bias=False, weight_bit_width=4),
        torch.nn.BatchNorm2d(8),
        qnn.QuantReLU(bit_width=4, return_quant_tensor=True),
        qnn.QuantConv2d(8, 4, 1, bias=False, weight_bit_width=4),
        qnn.QuantIdentity(bit_width=8),
    )
    _calibrate(model, torch.randn(16, 3, 8, 8), seed=11)
    return _export(model, torch.randn(1, 3, 8, 8), path)


def cnv_binary(path: Path, act_bits: int) -> Path:
    """FINN's CNV pattern, small: 8-bit input, two 3x3 convs with +1/-1 weights (SignedBinaryWeightPerTensorConst)
    each followed by BatchNorm and a 1-bit (bipolar) or 2-bit activation, MaxPool, a binary linear layer, an 8-bit
    output. Input [1, 3, 8, 8]."""
    import torch
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    def act():
        if act_bits == 1:
            return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
        return qnn.QuantIdentity(bit_width=act_bits, return_quant_tensor=True)

    torch.manual_seed(12 + act_bits)
    model = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantConv2d(3, 8, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        torch.nn.BatchNorm2d(8),
        act(),
        qnn.QuantConv2d(8, 8, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        torch.nn.BatchNorm2d(8),
        act(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        qnn.QuantLinear(8 * 2 * 2, 4, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        qnn.QuantIdentity(bit_width=8),
    )
    _calibrate(model, torch.randn(16, 3, 8, 8), seed=12 + act_bits)
    return _export(model, torch.randn(1, 3, 8, 8), path)


MODELS = {
    "resnet_block_truncavgpool": resnet_block_truncavgpool,
    "mobilenet_block_perchannel_act": mobilenet_block_perchannel_act,
    "cnv_w1a1": lambda path: cnv_binary(path, 1),
    "cnv_w1a2": lambda path: cnv_binary(path, 2),
}


def make(name: str, folder: Path) -> Path:
    import contextlib
    import io

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter talks
        return MODELS[name](folder / f"{name}.onnx")
