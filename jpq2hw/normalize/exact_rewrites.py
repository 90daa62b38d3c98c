"""Rewrites of ops hls4ml has no exact form for into ops it has, with the same values (NCHW graph, before
channels-last):

- AveragePool / GlobalAveragePool -> a depthwise Conv whose weights are all 2^-k when the window size is 2^k
  (a sum and a shift, exact in fixed point), else all one (an exact integer sum) followed by a Div by the
  size, which streamlining folds exactly into the next quantizer's thresholds (as any constant Div).
- Conv with 1 < group (not one input channel per group): a dense Conv whose weights are block-diagonal (zeros
  outside each group's block; a zero weight costs nothing in hardware). A depthwise Conv (group = channels =
  outputs) stays one: hls4ml maps it to its DepthwiseConv layers.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError
from jpq2hw.core.attrs import attr
from jpq2hw.core.node_names import node_label

QUANT_DOMAIN = "qonnx.custom_op.general"


def _const(model: ModelWrapper, base: str, value) -> str:
    name = model.make_new_valueinfo_name() + "_" + base
    model.set_initializer(name, np.asarray(value, dtype=np.float32))
    return name


def average_pools_as_sums(model: ModelWrapper, source: str) -> ModelWrapper:
    for node in list(model.graph.node):
        if node.op_type not in ("AveragePool", "GlobalAveragePool"):
            continue
        shape = model.get_tensor_shape(node.input[0])
        if shape is None or len(shape) not in (3, 4):
            raise JpqError(f"{source}: {node_label(node)}: average pooling needs a 1-D or 2-D feature map")
        chans, spatial = int(shape[1]), [int(d) for d in shape[2:]]
        if node.op_type == "GlobalAveragePool":
            kernel, strides, pads = spatial, [1] * len(spatial), [0] * (2 * len(spatial))
        else:
            kernel = list(attr(node, "kernel_shape"))
            strides = list(attr(node, "strides", [1] * len(kernel)))
            pads = list(attr(node, "pads", [0] * (2 * len(kernel))))
            auto_pad = attr(node, "auto_pad", "NOTSET")
            if auto_pad not in ("NOTSET", "VALID"):
                raise JpqError(f"{source}: {node_label(node)}: auto_pad={auto_pad} is not supported (give explicit pads)")
            if int(attr(node, "ceil_mode", 0)):
                raise JpqError(f"{source}: {node_label(node)}: ceil_mode=1 is not supported (windows of varying size)")
            if any(pads) and not int(attr(node, "count_include_pad", 0)):
                raise JpqError(f"{source}: {node_label(node)}: padded average pooling that does not count the "
                               f"padding divides by a different size at the border; use count_include_pad=True "
                               f"(PyTorch's default) or no padding")
            if any(d != 1 for d in attr(node, "dilations", [1] * len(kernel))):
                raise JpqError(f"{source}: {node_label(node)}: dilated average pooling is not supported")
        size = int(np.prod(kernel))
        shift = size & (size - 1) == 0  # 2^k: the weights themselves are 2^-k (a shift, exact in fixed point)
        step = 1.0 / size if shift else 1.0
        ones = np.full([chans, 1, *kernel], step, dtype=np.float32)
        q_out = model.make_new_valueinfo_name()
        quant = helper.make_node("Quant", [_const(model, "ones", ones), _const(model, "step", step),
                                           _const(model, "zero", 0.0), _const(model, "bits", 2.0)], [q_out],
                                 name=f"{node.name}_ones", domain=QUANT_DOMAIN, signed=1, narrow=1,
                                 rounding_mode="ROUND")
        summed = node.output[0] if shift else model.make_new_valueinfo_name()
        conv = helper.make_node("Conv", [node.input[0], q_out], [summed], name=f"{node.name}_sum",
                                kernel_shape=kernel, strides=strides, pads=pads, dilations=[1] * len(kernel),
                                group=chans)
        new_nodes = [quant, conv]
        if not shift:
            new_nodes.append(helper.make_node("Div", [summed, _const(model, "size", float(size))], [node.output[0]],
                                              name=f"{node.name}_divide"))
        idx = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        for new in reversed(new_nodes):
            for p in node.metadata_props:
                new.metadata_props.add(key=p.key, value=p.value)
            model.graph.node.insert(idx, new)
    return model


def grouped_convs_as_dense(model: ModelWrapper, source: str) -> ModelWrapper:
    for node in model.graph.node:
        group = int(attr(node, "group", 1))
        if node.op_type != "Conv" or group == 1:
            continue
        producer = model.find_producer(node.input[1])
        w_name = producer.input[0] if producer is not None and producer.op_type == "Quant" else node.input[1]
        w = model.get_initializer(w_name)
        cin, cout = int(model.get_tensor_shape(node.input[0])[1]), None if w is None else int(w.shape[0])
        if group == cin == cout:
            continue  # depthwise: hls4ml's own layer
        if w is None or cin % group or cout % group:
            raise JpqError(f"{source}: {node_label(node)}: grouped convolution (group={group}) needs constant "
                           f"weights and channel counts divisible by the group count")
        per_in, per_out = cin // group, cout // group
        dense = np.zeros([cout, cin, *w.shape[2:]], dtype=np.float32)
        for g in range(group):
            dense[g * per_out:(g + 1) * per_out, g * per_in:(g + 1) * per_in] = w[g * per_out:(g + 1) * per_out]
        model.set_initializer(w_name, dense)
        if producer is not None and producer.op_type == "Quant":  # shapes downstream of the weight Quant change
            for vi in [v for v in model.graph.value_info if v.name == producer.output[0]]:
                model.graph.value_info.remove(vi)
        for a in node.attribute:
            if a.name == "group":
                a.i = 1
    return model
