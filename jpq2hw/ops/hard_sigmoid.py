"""HardSigmoid: y = max(0, min(1, alpha * x + beta)) (ONNX defaults alpha 0.2, beta 0.5; PyTorch's
nn.Hardsigmoid exports alpha 1/6). An affine map and a clamp to [0, 1], folded exactly into the next quantizer's
thresholds, as Clip is."""

from __future__ import annotations

import numpy as np
from onnx import helper

from jpq2hw.core.attrs import attr
from jpq2hw.ops.affine import Affine, frac
from jpq2hw.ops.registry import OpRule, register

ALPHA, BETA = 0.2, 0.5  # ONNX's defaults


def streamline_hard_sigmoid(w, node):
    src = w.state.get(node.input[0])
    if src is None:
        w.refuse(node, "HardSigmoid on data that is not quantized (a float head is not supported)")
    if src.relu:
        w.refuse(node, "follows a ReLU-like op that was not quantized in between")
    a, b = frac(attr(node, "alpha", ALPHA)), frac(attr(node, "beta", BETA))
    w.state[node.output[0]] = Affine([a * x for x in src.alpha], [a * x + b for x in src.beta], relu=True,
                                     lower=frac(0), upper=frac(1))
    w.drop(node, node.input[0])


def hard_sigmoid_float64(m, node) -> list:
    """onnxruntime has no float64 HardSigmoid: Clip(alpha * x + beta, 0, 1) (exact in float64 for values on a
    fixed-point grid of up to 29 significant bits: alpha is a float32)."""
    p = f"{node.output[0]}__f64"
    for suffix, value in (("alpha", attr(node, "alpha", ALPHA)), ("beta", attr(node, "beta", BETA)),
                          ("zero", 0.0), ("one", 1.0)):
        m.set_initializer(f"{p}_{suffix}", np.asarray(value, dtype=np.float64))
    return [helper.make_node("Mul", [node.input[0], f"{p}_alpha"], [f"{p}_ax"]),
            helper.make_node("Add", [f"{p}_ax", f"{p}_beta"], [f"{p}_axb"]),
            helper.make_node("Clip", [f"{p}_axb", f"{p}_zero", f"{p}_one"], [node.output[0]], name=node.name)]


register("HardSigmoid", OpRule(
    "hard sigmoid: its affine map and the clamp to [0, 1] folded into the next quantizer's thresholds",
    inputs=(1, 1), needs_streamline=lambda model, node: True, streamline=streamline_hard_sigmoid,
    float64=hard_sigmoid_float64))
