"""An independent, exact evaluator for the models QonnxBuilder makes: every value a Python Fraction.

No float ever rounds here, so it is the ground truth the references (onnxruntime float32 QCDQ, qonnx float64)
are checked against. It runs the un-normalized ONNX graph (NCHW) node by node and knows only the ops the
builder emits: Quant (ROUND = half to even, FLOOR), MatMul, Conv (group 1, dilation 1), Add, Relu, MaxPool,
BatchNormalization (inference form), Flatten. Slow (object arrays), meant for small models and a few vectors.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from onnx import numpy_helper
from qonnx.core.modelwrapper import ModelWrapper


def _frac(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.array([Fraction(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape)


def _round_half_even(v: Fraction) -> int:
    return round(v)  # Python rounds Fractions half to even


def _quant(x, scale, zeropt, bits, signed, narrow, mode):
    bits = int(bits.ravel()[0])
    if signed:
        lo, hi = -(1 << (bits - 1)) + (1 if narrow else 0), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    rnd = {"ROUND": _round_half_even, "FLOOR": math.floor, "CEIL": math.ceil}[mode]
    scale = np.broadcast_to(scale, x.shape)
    zeropt = np.broadcast_to(zeropt, x.shape)
    out = np.empty(x.shape, dtype=object)
    for idx in np.ndindex(x.shape):
        q = rnd(x[idx] / scale[idx] + zeropt[idx])
        out[idx] = (min(max(q, lo), hi) - zeropt[idx]) * scale[idx]
    return out


def _conv(x, w, b, strides, pads):
    n, cin, h, wd = x.shape
    cout, _, kh, kw = w.shape
    xp = np.full((n, cin, h + pads[0] + pads[2], wd + pads[1] + pads[3]), Fraction(0), dtype=object)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    ho = (xp.shape[2] - kh) // strides[0] + 1
    wo = (xp.shape[3] - kw) // strides[1] + 1
    out = np.empty((n, cout, ho, wo), dtype=object)
    wf = w.reshape(cout, -1)
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * strides[0]:i * strides[0] + kh, j * strides[1]:j * strides[1] + kw].reshape(n, -1)
            out[:, :, i, j] = patch.dot(wf.T)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def _maxpool(x, k, s):
    n, c, h, w = x.shape
    ho, wo = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.empty((n, c, ho, wo), dtype=object)
    for i in range(ho):
        for j in range(wo):
            win = x[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].reshape(n, c, -1)
            out[:, :, i, j] = np.array([[max(win[a, b]) for b in range(c)] for a in range(n)], dtype=object)
    return out


def evaluate(model: ModelWrapper, x: np.ndarray, all_tensors: bool = False):
    """The exact output for one input x (with its batch dimension), as float64 (exact if it fits); with
    all_tensors, the dict of every tensor as Fraction object arrays instead."""
    ctx = {t.name: _frac(numpy_helper.to_array(t)) for t in model.graph.initializer}
    ctx[model.graph.input[0].name] = _frac(x)
    for node in model.graph.node:
        a = {at.name: at for at in node.attribute}
        ins = [ctx[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Quant":
            y = _quant(ins[0], ins[1], ins[2], ins[3], a["signed"].i, a["narrow"].i, a["rounding_mode"].s.decode())
        elif op == "MatMul":
            y = ins[0].dot(ins[1])
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "Relu":
            y = np.where(ins[0] > 0, ins[0], Fraction(0))
        elif op == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif op == "Conv":
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, list(a["strides"].ints), list(a["pads"].ints))
        elif op == "MaxPool":
            y = _maxpool(ins[0], list(a["kernel_shape"].ints), list(a["strides"].ints))
        elif op == "BatchNormalization":
            x0, gamma, beta, mean, var = ins
            eps = a["epsilon"].f if "epsilon" in a else 1e-5
            if eps != 0 or any(v != 1 for v in var.ravel()):
                raise NotImplementedError("BatchNormalization with epsilon != 0 or var != 1 is not dyadic")
            shape = (1, -1) + (1,) * (x0.ndim - 2)
            y = (x0 - mean.reshape(shape)) * gamma.reshape(shape) + beta.reshape(shape)
        else:
            raise NotImplementedError(f"exact_oracle: op {op}")
        ctx[node.output[0]] = y
    if all_tensors:
        return ctx
    out = ctx[model.graph.output[0].name]
    return np.array([float(v) for v in out.ravel()], dtype=np.float64).reshape(out.shape)
