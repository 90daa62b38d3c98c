"""BatchNormalization: a per-channel affine map, folded into the layer before or the next quantizer's
thresholds (streamlining), or an hls4ml BatchNormalization layer in exact fixed point."""

from __future__ import annotations

import numpy as np

from jpq2hw.core.attrs import attr
from jpq2hw.ops.affine import Affine, frac
from jpq2hw.ops.registry import OpRule, register


def streamline_BatchNormalization(w, node):
    src = w.state.get(node.input[0])
    if src is None or src.relu:
        w.refuse(node, "BatchNorm on data that is not quantized, or after a ReLU with an offset")
    n = w.n_chan(node.output[0])
    gamma, beta, mean, var = (np.asarray(w.m.get_initializer(t), np.float64).ravel() for t in node.input[1:5])
    eps = float(attr(node, "epsilon", 1e-5))
    k = gamma / np.sqrt(var + eps)  # as the float64 reference computes it
    al = src.alpha * n if len(src.alpha) == 1 else src.alpha
    be = src.beta * n if len(src.beta) == 1 else src.beta
    alpha = [a * frac(kk) for a, kk in zip(al, k)]
    bb = [(b - frac(mu)) * frac(kk) + frac(bt) for b, mu, kk, bt in zip(be, mean, k, beta)]
    w.state[node.output[0]] = Affine(alpha, bb)
    w.drop(node, node.input[0])

register("BatchNormalization", OpRule(
    "BatchNormalization (scale and shift in exact fixed point) or folded into a constant", inputs=(5, 5),
    streamline=streamline_BatchNormalization))
