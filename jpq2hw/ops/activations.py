"""Relu, LeakyRelu and Clip (ReLU6 / hardtanh): the piecewise-linear activations. With float scales each folds
into the next quantizer's thresholds (a pending clamp or slope on the affine map); in fixed point Relu and a
power-of-two LeakyRelu are hls4ml activations."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from onnx import helper

from jpq2hw.core.fixed import Range, dot_range
from jpq2hw.core.attrs import attr
from jpq2hw.ops.affine import Affine, frac, is_power_of_two
from jpq2hw.ops.registry import OpRule, register


def streamline_Relu(w, node):
    src = w.state.get(node.input[0])
    if src is None:
        w.refuse(node, "ReLU on data that is not quantized (a float head is not supported)")
    if src.relu and src.slope != 0:
        w.refuse(node, "follows a LeakyRelu that was not quantized in between")
    if not src.relu and all(b == 0 for b in src.beta) and all(a > 0 for a in src.alpha):
        w.state[node.output[0]] = src  # relu commutes with a positive scale: keep it in hardware
        return
    lower, upper = (max(src.lower, Fraction(0)), src.upper) if src.relu else (Fraction(0), None)
    # folded into the next quantizer
    w.state[node.output[0]] = Affine(src.alpha, src.beta, relu=True, lower=lower, upper=upper)
    w.drop(node, node.input[0])

def streamline_Clip(w, node):
    """ReLU6 / hardtanh: a clamp folded into the next quantizer's thresholds (exact for any bounds)."""
    src = w.state.get(node.input[0])
    if src is None:
        w.refuse(node, "Clip on data that is not quantized (a float head is not supported)")
    if src.relu and src.slope != 0:
        w.refuse(node, "follows a LeakyRelu that was not quantized in between")
    bounds = []
    for i in (1, 2):
        name = node.input[i] if len(node.input) > i else ""
        value = w.m.get_initializer(name) if name else None
        if name and value is None:
            w.refuse(node, "its bounds must be constants")
        bounds.append(None if value is None else frac(np.asarray(value).ravel()[0]))
    lo, hi = bounds
    if lo is None:
        w.refuse(node, "a Clip without a lower bound has no integer form here (give min, e.g. hardtanh's -1)")
    if src.relu:  # clamps compose: clip(clip(v, l1, u1), l2, u2) = clip(v, max(l1, l2), min(u1, u2))
        lo = max(lo, src.lower)
        hi = src.upper if hi is None else (hi if src.upper is None else min(hi, src.upper))
    w.state[node.output[0]] = Affine(src.alpha, src.beta, relu=True, lower=lo, upper=hi)
    w.drop(node, node.input[0])

def streamline_LeakyRelu(w, node):
    """Folded into the next quantizer: its thresholds solve slope * y >= t below zero (exact, any slope)."""
    src = w.state.get(node.input[0])
    slope = frac(attr(node, "alpha", 0.01))
    if src is None:
        w.refuse(node, "LeakyRelu on data that is not quantized (a float head is not supported)")
    if slope == 0:
        return streamline_Relu(w, node)
    if src.relu:
        w.refuse(node, "follows another ReLU-like op that was not quantized in between")
    if slope < 0:
        w.refuse(node, f"slope {float(slope)} < 0 is not monotonic (no threshold form)")
    consumers = w.m.find_consumers(node.output[0]) or []
    if not consumers or any(c.op_type != "Quant" for c in consumers):
        w.refuse(node, "a LeakyRelu must feed a quantizer (its output is not integer otherwise)")
    w.state[node.output[0]] = Affine(src.alpha, src.beta, relu=True, slope=slope)
    w.drop(node, node.input[0])

def leaky_range(ranges, model, node) -> Range | None:
    """x >= 0: x; below: alpha * x, exact with alpha in its own exact type (hls4ml's param_t)."""
    x = ranges.get(node.input[0])
    if x is None:
        return None
    alpha = np.array([float(attr(node, "alpha", 0.01))])
    negative = Range(min(x.lo, 0), 0, x.frac)
    return x.relu().union(dot_range(negative, alpha.reshape(1, 1)))


def leaky_float64(m, node) -> list:
    """onnxruntime has no float64 LeakyRelu: Max(x, 0) + alpha * Min(x, 0) (one rounding, as LeakyRelu's own)."""
    p = f"{node.output[0]}__f64"
    alpha = next((a.f for a in node.attribute if a.name == "alpha"), 0.01)
    m.set_initializer(f"{p}_zero", np.asarray(0.0, dtype=np.float64))
    m.set_initializer(f"{p}_alpha", np.asarray(alpha, dtype=np.float64))
    x = node.input[0]
    return [helper.make_node("Max", [x, f"{p}_zero"], [f"{p}_pos"]),
            helper.make_node("Min", [x, f"{p}_zero"], [f"{p}_neg"]),
            helper.make_node("Mul", [f"{p}_neg", f"{p}_alpha"], [f"{p}_leak"]),
            helper.make_node("Add", [f"{p}_pos", f"{p}_leak"], [node.output[0]], name=node.name)]


def relu_range(ranges, model, node) -> Range | None:
    x = ranges.get(node.input[0])
    return None if x is None else x.relu()


register("Relu", OpRule("ReLU", inputs=(1, 1), type_preserving=True, rtl="ReLU", streamline=streamline_Relu,
                        value_range=relu_range))
register("LeakyRelu", OpRule(
    "LeakyReLU with the slope in an exact fixed-point type (power-of-two slope), or folded into the next "
    "quantizer's thresholds (any other slope >= 0)", inputs=(1, 1),
    # a power-of-two slope is a shift in fixed point; any other slope folds into the next quantizer's thresholds
    needs_streamline=lambda model, node: not is_power_of_two(frac(attr(node, "alpha", 0.01))),
    streamline=streamline_LeakyRelu, value_range=leaky_range, float64=leaky_float64))
register("Clip", OpRule("ReLU6 / hardtanh: a clamp folded into the next quantizer's thresholds", inputs=(1, 3),
                        needs_streamline=lambda model, node: True, streamline=streamline_Clip))
