"""Sparsity, weight memory and BOPs of a compressed network, read from the torch model (`model_metrics`) or
from a QONNX file (`qonnx_metrics`). The definitions are jpq2hw/metrics.py's (the build report uses the same
ones); a Siamese conv (jpq2hw/compress/stereo.py) is one shared kernel stored once and computed for both views.
"""

from __future__ import annotations

import numpy as np
import torch

from jpq2hw.metrics import (FLOAT_BITS, dense_bits, layer_bops, layer_entry, layer_memory_bits, shared_copies,
                            shared_kernel, sparse_bits, stored_bias_count, summarize)

__all__ = ["FLOAT_BITS", "dense_bits", "layer_bops", "layer_memory_bits", "model_metrics", "qonnx_metrics",
           "sparse_bits", "summarize"]


@torch.no_grad()
def model_metrics(model, example_input: torch.Tensor) -> dict:
    """Metrics of a torch model: a model from `prepare_model` (quantized or not) or a plain float
    model (everything counted at 32 bits)."""
    from jpq2hw.compress.qmodules import WEIGHT_LAYERS

    from jpq2hw.compress.stereo import Siamese

    kinds = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)
    shared = {m.conv: 2 for m in model.modules() if isinstance(m, Siamese)}  # one kernel, both views
    shapes = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out: shapes.__setitem__(mod, (inp[0].shape, out.shape)))
             for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    model.eval()
    model(example_input[:1])
    model.train(was_training)
    for h in hooks:
        h.remove()
    layers = []
    for name, m in model.named_modules():
        if not isinstance(m, kinds) or m not in shapes:
            continue
        quant = isinstance(m, WEIGHT_LAYERS) and m.quant_enabled
        weight = m.effective_weight() if isinstance(m, WEIGHT_LAYERS) else m.weight
        w_bits = m.weight_bits if quant else FLOAT_BITS
        s_in = m.input_scale() if isinstance(m, WEIGHT_LAYERS) else None
        a_bits = m._input_quant[0].bits if quant and s_in is not None else FLOAT_BITS
        in_shape, out_shape = shapes[m]
        if isinstance(m, (torch.nn.Linear,)):
            positions, rows = 1, m.out_features
        elif isinstance(m, torch.nn.ConvTranspose2d):
            positions, rows = in_shape[-1] * in_shape[-2], m.in_channels
        else:
            positions, rows = out_shape[-1] * out_shape[-2], m.out_channels
        nonzero, total = int((weight != 0).sum().item()), weight.numel()
        bias_count = 0 if m.bias is None else m.bias.numel()
        bias_bits = m.bias_bits if quant and m.bias is not None else FLOAT_BITS
        layers.append(layer_entry(name, total, nonzero, rows, positions, w_bits, a_bits, bias_count, bias_bits,
                                  copies=shared.get(m, 1)))
    return summarize(layers)


def qonnx_metrics(model) -> dict:
    """The same metrics read from a QONNX ModelWrapper (shapes inferred; weights from Quant nodes)."""
    from qonnx.transformation.infer_shapes import InferShapes

    model = model.transform(InferShapes())
    producers = {o: n for n in model.graph.node for o in n.output}

    def quant_of(tensor):
        node = producers.get(tensor)
        # walk back over grid-preserving ops to the quantizer that sets the type
        while node is not None and node.op_type in ("MaxPool", "Flatten", "Reshape", "Transpose"):
            node = producers.get(node.input[0])
        return node if node is not None and node.op_type == "Quant" else None

    layers = []
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
            continue
        wq = quant_of(node.input[1])
        weight = model.get_initializer(wq.input[0] if wq is not None else node.input[1])
        if weight is None:
            continue
        w_bits = int(model.get_initializer(wq.input[3])) if wq is not None else FLOAT_BITS
        aq = quant_of(node.input[0])
        a_bits = int(model.get_initializer(aq.input[3])) if aq is not None else FLOAT_BITS
        if wq is not None:
            scale = model.get_initializer(wq.input[1])
            weight = np.round(np.clip(weight / scale, -(2 ** (w_bits - 1)), 2 ** (w_bits - 1) - 1))
        # Conv weight (out, in, kh, kw); ConvTranspose (in, out, kh, kw): a row per input channel; MatMul (in, out)
        out_axis, in_axis = (0, 1) if node.op_type in ("Conv", "ConvTranspose") else (weight.ndim - 1, 0)
        copies = shared_copies(weight, out_axis, in_axis) if node.op_type == "Conv" else 1
        weight = shared_kernel(weight, copies, out_axis, in_axis)
        nonzero, total = int(np.count_nonzero(weight)), int(weight.size)
        if node.op_type == "Conv":
            out = model.get_tensor_shape(node.output[0])
            positions, rows = int(np.prod(out[2:])), weight.shape[0]
        elif node.op_type == "ConvTranspose":
            inp = model.get_tensor_shape(node.input[0])
            positions, rows = int(np.prod(inp[2:])), weight.shape[0]
        else:  # MatMul weight is (in, out)
            positions, rows = 1, weight.shape[-1]
        bias_count = bias_bits = 0
        bias_name = node.input[2] if len(node.input) > 2 else None
        if bias_name is None:
            consumers = [n for n in model.graph.node if node.output[0] in n.input and n.op_type == "Add"]
            if consumers:
                bias_name = next((i for i in consumers[0].input if i != node.output[0]), None)
        if bias_name:
            bq = producers.get(bias_name)
            b_init = model.get_initializer(bq.input[0] if bq is not None and bq.op_type == "Quant" else bias_name)
            if b_init is not None:
                bias_count = stored_bias_count(b_init, copies)
                bias_bits = int(model.get_initializer(bq.input[3])) if bq is not None and bq.op_type == "Quant" \
                    else FLOAT_BITS
        layers.append(layer_entry(node.name, total, nonzero, rows, positions, w_bits, a_bits, bias_count,
                                  bias_bits, copies))
    return summarize(layers)
