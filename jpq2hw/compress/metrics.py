"""Memory and compute of a compressed network: the one definition jpq2hw uses everywhere
(benchmark, `jpq2hw compress` summary, build report).

Per weight layer (Conv2d, ConvTranspose2d, Linear), with
  N   = number of weights, nz = nonzero weights after quantization (pruned or rounded to zero),
  b_w = weight bits, b_a = bits of the activation feeding the layer (32 if not quantized),
  rows = output channels (Conv/Linear) or input channels (ConvTranspose: one row per input channel),
  F   = N / rows (fan-in of a row), idx = max(1, ceil(log2 F)), cnt = ceil(log2(F + 1)):

  dense bits  = N * b_w
  sparse bits = nz * (b_w + idx) + rows * cnt        (CSR: each nonzero carries its position in the
                                                      row, each row its nonzero count)
  weight memory bits = min(dense, sparse) + bias_count * b_bias
      (the cheaper storage format is assumed; the mask/index overhead is inside `sparse`)

  BOPs = nz * positions * b_w * b_a
      positions = output pixels H_out * W_out for Conv2d, input pixels H_in * W_in for
      ConvTranspose2d (each weight is used once per input pixel), 1 for Linear: the number of
      multiply-accumulates with a nonzero weight, each costing b_w * b_a bit operations.
      A float model counts b_w = b_a = 32.

The primitives take plain numbers so that a report built from a QONNX file (`qonnx_metrics`) and
one built from the torch model (`model_metrics`) agree by construction.
"""

from __future__ import annotations

import math

import numpy as np
import torch

FLOAT_BITS = 32


def dense_bits(total: int, weight_bits: int) -> int:
    return total * weight_bits


def sparse_bits(nonzero: int, total: int, rows: int, weight_bits: int) -> int:
    fan_in = max(total // max(rows, 1), 1)
    index_bits = max(1, math.ceil(math.log2(fan_in)))
    count_bits = math.ceil(math.log2(fan_in + 1))
    return nonzero * (weight_bits + index_bits) + rows * count_bits


def layer_memory_bits(nonzero: int, total: int, rows: int, weight_bits: int, bias_count: int = 0,
                      bias_bits: int = FLOAT_BITS) -> int:
    weights = min(dense_bits(total, weight_bits), sparse_bits(nonzero, total, rows, weight_bits))
    return weights + bias_count * bias_bits


def layer_bops(nonzero: int, positions: int, weight_bits: int, act_bits: int) -> int:
    return nonzero * positions * weight_bits * act_bits


def summarize(layers: list[dict]) -> dict:
    """Totals over per-layer dicts with keys nonzero, total, memory_bits, bops."""
    total = sum(l["total"] for l in layers)
    nonzero = sum(l["nonzero"] for l in layers)
    return {"weights": total, "nonzero": nonzero, "sparsity": 1 - nonzero / total if total else 0.0,
            "memory_bits": sum(l["memory_bits"] for l in layers), "bops": sum(l["bops"] for l in layers),
            "layers": layers}


@torch.no_grad()
def model_metrics(model, example_input: torch.Tensor) -> dict:
    """Metrics of a torch model: a model from `prepare_model` (quantized or not) or a plain float
    model (everything counted at 32 bits)."""
    from jpq2hw.compress.qmodules import WEIGHT_LAYERS

    kinds = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)
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
        layers.append({"name": name, "total": total, "nonzero": nonzero, "weight_bits": w_bits, "act_bits": a_bits,
                       "memory_bits": layer_memory_bits(nonzero, total, rows, w_bits, bias_count, bias_bits),
                       "bops": layer_bops(nonzero, positions, w_bits, a_bits)})
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
                bias_count = int(b_init.size)
                bias_bits = int(model.get_initializer(bq.input[3])) if bq is not None and bq.op_type == "Quant" \
                    else FLOAT_BITS
        layers.append({"name": node.name, "total": total, "nonzero": nonzero, "weight_bits": w_bits,
                       "act_bits": a_bits,
                       "memory_bits": layer_memory_bits(nonzero, total, rows, w_bits, bias_count, bias_bits),
                       "bops": layer_bops(nonzero, positions, w_bits, a_bits)})
    return summarize(layers)
