"""Conv, MatMul and Gemm: the layers with constant weights (Dense, Conv1D/Conv2D, DepthwiseConv)."""

from __future__ import annotations

import numpy as np
from onnx import AttributeProto

from jpq2hw.core.fixed import Range, dot_range
from jpq2hw.errors import JpqError
from jpq2hw.ops.affine import frac
from jpq2hw.ops.quant import quantized_constant
from jpq2hw.ops.registry import OpRule, register


def constant_value(model, name: str, cache: dict | None = None) -> np.ndarray | None:
    """The value of a constant tensor: an initializer, or a Quant node of an initializer; None otherwise.
    `cache`: tensor name -> value, filled here (quantizing a large weight tensor takes a while)."""
    if cache is not None and name in cache:
        return cache[name]
    value = model.get_initializer(name)
    if value is not None:
        return np.asarray(value, dtype=np.float64)
    producer = model.find_producer(name)
    if producer is None or producer.op_type != "Quant" or model.get_initializer(producer.input[0]) is None:
        return None
    value = np.asarray(quantized_constant(model, producer), dtype=np.float64)
    if cache is not None:
        cache[name] = value
    return value


def weights_and_bias(model, node, cache: dict | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The layer's constant weights as (fan_in, n_out) columns (a conv's kernel per output channel; depthwise: each
    channel's own kernel) and its bias, read through their Quant nodes; None where not constant."""
    w = constant_value(model, node.input[1], cache)
    bias = constant_value(model, node.input[2], cache) if len(node.input) > 2 and node.input[2] else None
    if w is None:
        return None, bias
    if node.op_type == "Conv":  # (c_out, ...): one column per output channel
        w = w.reshape(w.shape[0], -1).T
    elif node.op_type == "Gemm" and node.attribute and any(a.name == "transB" and a.i for a in node.attribute):
        w = w.T
    return w.reshape(w.shape[0], -1), (None if bias is None else bias.ravel())


def linear_range(ranges, model, node) -> Range | None:
    """The exact range of bias + sum(w * x) over the real (nonzero) weights: hls4ml's accum_t."""
    x = ranges.get(node.input[0])
    w, bias = weights_and_bias(model, node)
    if x is None or w is None:
        return None
    return dot_range(x, w, bias)


def shape_through_quants(model, tensor: str):
    """The tensor's shape, or (a file without value_info) that of the tensor its Quant nodes quantize."""
    for _ in range(8):
        shape = model.get_tensor_shape(tensor)
        producer = model.find_producer(tensor)
        if shape or producer is None or producer.op_type not in ("Quant", "BipolarQuant") or not producer.input:
            return shape
        tensor = producer.input[0]
    return None


def validate_window(model, node, label: str, source: str) -> None:
    """Conv/MaxPool/AveragePool: kernel, strides, pads, dilations and group we map exactly (qonnx and hls4ml
    assume them)."""
    attrs = {a.name: a for a in node.attribute}
    for name in ("kernel_shape", "strides", "pads", "dilations"):
        if name in attrs and attrs[name].type != AttributeProto.INTS:
            raise JpqError(f"{source}: {label}: attribute '{name}' must be a list of integers")
    auto_pad = attrs["auto_pad"].s.decode(errors="replace") if "auto_pad" in attrs else "NOTSET"
    if auto_pad not in ("NOTSET", "VALID"):
        raise JpqError(f"{source}: {label}: auto_pad={auto_pad} is not supported (give explicit pads)")
    kernel = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else None
    if node.op_type == "Conv":
        w = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
        if w is None and len(node.input) > 1:
            producer = model.find_producer(node.input[1])
            if producer is not None and producer.op_type == "Quant":
                w = model.get_initializer(producer.input[0])
        if w is not None:
            if w.ndim < 3:
                raise JpqError(f"{source}: {label}: weights of shape {list(w.shape)} are not a convolution kernel")
            # qonnx's channels-last files store [C_out, k, k, C_in/group]; normalization turns them back
            spatial = list(w.shape[1:-1]) if node.domain == "qonnx.custom_op.channels_last" else list(w.shape[2:])
            if kernel is not None and spatial != kernel:
                raise JpqError(f"{source}: {label}: kernel_shape {kernel} does not match the weights {list(w.shape)}")
            kernel = spatial
        group = attrs["group"].i if "group" in attrs else 1
        if group < 1 or (w is not None and w.ndim >= 3 and (w.shape[0] % group)):
            raise JpqError(f"{source}: {label}: group={group} does not divide the {w.shape[0] if w is not None else '?'} "
                           f"output channels")
        x_shape = shape_through_quants(model, node.input[0]) if node.domain in ("", "ai.onnx") else None
        # a dimension exporters leave unknown (0, or a name) says nothing: PyTorch's value_info for a Quant output
        if w is not None and x_shape and len(x_shape) == w.ndim and x_shape[1] > 0 and w.shape[1] * group != x_shape[1]:
            raise JpqError(f"{source}: {label}: the weights {list(w.shape)} with group={group} take "
                           f"{w.shape[1] * group} input channels, the input has {x_shape[1]}")
        dil = list(attrs["dilations"].ints) if "dilations" in attrs else []
        if any(d != 1 for d in dil):
            raise JpqError(f"{source}: {label}: dilations {dil} are not supported (only 1)")
    if kernel is None:
        raise JpqError(f"{source}: {label}: no kernel_shape")
    n = len(kernel)
    if n not in (1, 2) or any(k < 1 for k in kernel):
        raise JpqError(f"{source}: {label}: kernel_shape {kernel} is not a 1-D or 2-D kernel of positive size")
    strides = list(attrs["strides"].ints) if "strides" in attrs else [1] * n
    if len(strides) != n or any(s < 1 for s in strides):
        raise JpqError(f"{source}: {label}: strides {strides} must be {n} positive integers")
    pads = list(attrs["pads"].ints) if "pads" in attrs else [0] * (2 * n)
    if len(pads) != 2 * n or any(p < 0 for p in pads):
        raise JpqError(f"{source}: {label}: pads {pads} must be {2 * n} non-negative integers")
    if any(p >= k for p, k in zip(pads, kernel + kernel)):
        raise JpqError(f"{source}: {label}: pads {pads} must be smaller than the kernel {kernel}")


def streamline_MatMul(w, node):
    def scale_per_out(wscale, n):
        v = np.asarray(wscale, np.float64)
        if v.size == 1:
            return [frac(v.ravel()[0])] * n
        if v.shape[-1] != n or v.size != n:
            w.refuse(node, f"weight scale of shape {list(v.shape)} is not per output channel")
        return [frac(x) for x in v.ravel()]

    w.linear(node, scale_per_out)

def streamline_Conv(w, node):
    def scale_per_out(wscale, n):
        v = np.asarray(wscale, np.float64)
        if v.size == 1:
            return [frac(v.ravel()[0])] * n
        if v.shape[0] != n or v.size != n:
            w.refuse(node, f"weight scale of shape {list(v.shape)} is not per output channel")
        return [frac(x) for x in v.ravel()]

    w.linear(node, scale_per_out)  # a depthwise Conv too: each output channel has its own scale

register("Conv", OpRule(
    "Conv1D/Conv2D: any kernel, stride, zero padding, dilation 1; depthwise (group = channels) as DepthwiseConv, "
    "other groups as a dense Conv with block-diagonal weights", inputs=(2, 3), weights="conv", rtl="conv",
    validate=validate_window, streamline=streamline_Conv, value_range=linear_range))
register("MatMul", OpRule("Dense", inputs=(2, 2), weights="dense", rtl="dense", streamline=streamline_MatMul,
                          value_range=linear_range))
register("Gemm", OpRule("Dense (alpha = beta = 1)", inputs=(2, 3), weights="dense", rtl="dense",
                        value_range=linear_range))
