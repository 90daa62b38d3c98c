"""Read the fixed-point types a normalized QONNX graph implies: the input type and, per compute layer,
its quantized weights, weight/activation bit widths, sparsity and operation counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw import metrics
from jpq2hw.errors import JpqError
from jpq2hw.core.node_names import node_label
from jpq2hw.ops import LAYOUT_OPS, QUANTIZER_OPS, THRESHOLD_OP, TYPE_PRESERVING_OPS, WEIGHT_OPS
from jpq2hw.ops.quant import QuantSpec, quant_spec, quantized_constant  # noqa: F401  (annotate's public names)


@dataclass
class LayerStats:
    """One compute layer. params/nonzero_params/rows/bias_count describe the stored kernel (a kernel shared by
    `copies` views, e.g. a Siamese conv's block-diagonal weight, once); hw_* the weight tensor the hardware
    holds. Sparsity, memory and BOPs follow jpq2hw/metrics.py."""

    name: str  # the ONNX node name
    op: str
    output: str  # the ONNX tensor it writes (hls4ml keeps this name)
    weight_bits: int
    act_bits: int | None
    params: int
    nonzero_params: int
    macs_per_weight: int  # how often each weight is used per inference (output pixels)
    accum_bits: int | None = None
    rows: int = 1  # output channels / features of the stored kernel
    bias_count: int = 0  # biases stored (a shared kernel's repeated bias once)
    bias_bits: int = metrics.FLOAT_BITS
    copies: int = 1
    hw_params: int | None = None  # weights of the tensor in hardware (default: params)
    hw_nonzero: int | None = None

    def __post_init__(self):
        self.hw_params = self.params if self.hw_params is None else self.hw_params
        self.hw_nonzero = self.nonzero_params if self.hw_nonzero is None else self.hw_nonzero

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero_params / self.params if self.params else 0.0

    def metrics(self) -> dict:
        return metrics.layer_entry(self.name, self.params, self.nonzero_params, self.rows, self.macs_per_weight,
                                   self.weight_bits, self.act_bits, self.bias_count, self.bias_bits, self.copies)

    @property
    def weight_memory_bits(self) -> int:
        return self.metrics()["memory_bits"]

    @property
    def bops(self) -> int:
        return self.metrics()["bops"]


@dataclass
class ModelAnalysis:
    input_name: str
    input_shape: list[int]
    input_quant: QuantSpec
    layers: list[LayerStats] = field(default_factory=list)


def _producer_quant(model: ModelWrapper, tensor: str):
    """The quantizer (Quant or threshold node) that last set the type of `tensor`, looking back through
    type-preserving ops."""
    node = model.find_producer(tensor)
    while node is not None and node.op_type in TYPE_PRESERVING_OPS:
        node = model.find_producer(node.input[0])
    return node if node is not None and node.op_type in ("Quant", THRESHOLD_OP) else None


def _act_bits(model: ModelWrapper, node) -> int:
    if node.op_type == THRESHOLD_OP:
        attrs = {a.name: a for a in node.attribute}
        lo, hi = attrs["out_lo"].i, attrs["out_hi"].i
        return max((hi - lo).bit_length(), 1)  # the codes lo..hi need this many bits
    return quant_spec(model, node).bits


def first_input_quant(model: ModelWrapper, source: str):
    """The Quant node that types the graph input (directly or through layout ops)."""
    name = model.graph.input[0].name
    frontier = [name]
    seen = set()
    while frontier:
        t = frontier.pop()
        for consumer in model.find_consumers(t) or []:
            if consumer.op_type in QUANTIZER_OPS:
                return consumer
            if consumer.op_type in LAYOUT_OPS and consumer.name not in seen:
                seen.add(consumer.name)
                frontier.append(consumer.output[0])
    raise JpqError(
        f"{source}: the graph input '{name}' does not go straight into a Quant node, so its fixed-point "
        f"type is unknown; add an input quantizer (e.g. Brevitas QuantIdentity) before the first layer"
    )


def input_quant(model: ModelWrapper, source: str) -> QuantSpec:
    """The quantizer of the graph input (its scale may be any float)."""
    return quant_spec(model, first_input_quant(model, source))


def analyze(model: ModelWrapper, source: str, accum_bits: dict[str, int] | None = None,
            constants: dict | None = None) -> ModelAnalysis:
    """The layers of the hardware graph; `accum_bits`: each layer's exact accumulator width by node name
    (jpq2hw.annotate.value_ranges.accumulator_bits), None where unknown; `constants`: the quantized weights the
    value-range analysis already read, by tensor name."""
    in_name = model.graph.input[0].name
    analysis = ModelAnalysis(
        input_name=in_name,
        input_shape=list(model.get_tensor_shape(in_name)),
        input_quant=quant_spec(model, first_input_quant(model, source)),
    )
    for node in model.graph.node:
        if node.op_type not in WEIGHT_OPS:
            continue
        w_quant = model.find_producer(node.input[1])
        if w_quant is None or w_quant.op_type != "Quant" or model.get_initializer(w_quant.input[0]) is None:
            raise JpqError(f"{source}: {node_label(node, model)}: its weights are not a quantized constant")
        weights = (constants or {}).get(node.input[1])
        weights = quantized_constant(model, w_quant) if weights is None else weights
        act_q = _producer_quant(model, node.input[0])
        out_shape = model.get_tensor_shape(node.output[0])
        if node.op_type == "Conv":
            # channels-last after normalization: N, H, W, C (or N, W, C)
            macs_per_weight = int(np.prod(out_shape[1:-1]))
        else:
            macs_per_weight = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
        # channels-last Conv weight [c_out, kh, kw, c_in]; MatMul weight [in, out]
        out_axis, in_axis = (0, weights.ndim - 1) if node.op_type == "Conv" else (weights.ndim - 1, 0)
        copies = metrics.shared_copies(weights, out_axis, in_axis)
        kernel = metrics.shared_kernel(weights, copies, out_axis, in_axis)
        bias_count, bias_bits = _bias(model, node, copies)
        analysis.layers.append(
            LayerStats(
                name=node.name,
                op=node.op_type,
                output=node.output[0],
                weight_bits=quant_spec(model, w_quant).bits,
                act_bits=_act_bits(model, act_q) if act_q is not None else None,
                params=int(kernel.size),
                nonzero_params=int(np.count_nonzero(kernel)),
                macs_per_weight=macs_per_weight,
                accum_bits=(accum_bits or {}).get(node.name),
                rows=int(kernel.shape[out_axis]),
                bias_count=bias_count,
                bias_bits=bias_bits,
                copies=copies,
                hw_params=int(weights.size),
                hw_nonzero=int(np.count_nonzero(weights)),
            )
        )
    return analysis


def _bias(model: ModelWrapper, node, copies: int) -> tuple[int, int]:
    """(biases stored, their bits) of a compute node: Conv's third input, or the constant of the Add after
    a MatMul; a quantized constant has its quantizer's bits, a float one 32; none: (0, 32)."""
    name = node.input[2] if len(node.input) > 2 else None
    if name is None:
        adds = [n for n in model.find_consumers(node.output[0]) or [] if n.op_type == "Add"]
        name = next((i for i in adds[0].input if i != node.output[0]), None) if len(adds) == 1 else None
    if name is None:
        return 0, metrics.FLOAT_BITS
    quant = model.find_producer(name)
    if quant is not None and quant.op_type == "Quant" and model.get_initializer(quant.input[0]) is not None:
        return metrics.stored_bias_count(quantized_constant(model, quant), copies), quant_spec(model, quant).bits
    value = model.get_initializer(name)
    if value is None:
        return 0, metrics.FLOAT_BITS
    # a folded quantized bias carries its quantizer's width as a datatype (FLOAT32, 32 bits, when it had none)
    return metrics.stored_bias_count(value, copies), int(model.get_tensor_datatype(name).bitwidth())
