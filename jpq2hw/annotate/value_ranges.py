"""The one value-range analysis: the exact Range (integers lo..hi on the grid 2**-frac) of every activation tensor
of the hardware QONNX graph, from the input quantizer's type through each op's rule (jpq2hw/ops/, `value_range`).

The build's cost model, `jpq2hw report`, `--fit auto` and the RTL read these ranges, and hls4ml's accumulators
are checked against them (jpq2hw/pipeline/steps.py, convert), so every place prices and builds the same widths.
A tensor whose range no rule gives (a float head, an op without a rule) is absent: its readers fall back to a
worst case and say so by a missing width.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.core.fixed import Range, dot_range
from jpq2hw.ops import WEIGHT_OPS, any_rule
from jpq2hw.ops.linear import constant_value, weights_and_bias


def value_ranges(model: ModelWrapper, constants: dict | None = None) -> dict[str, Range]:
    """tensor name -> exact Range, for the graph in its (topological) node order. `constants`: filled with the
    quantized value of each weight and bias tensor read (annotate reuses them)."""
    ranges: dict[str, Range] = {}
    constants = {} if constants is None else constants
    for node in model.graph.node:
        rule = any_rule(node.op_type)
        if rule is None or rule.value_range is None or not node.output:
            continue
        try:
            if node.op_type in WEIGHT_OPS:  # the rule's linear_range, its weights read once for its bias Add too
                r = accumulator_range(model, node, ranges, constants, with_bias_after=False)
            elif node.op_type == "Add" and merged_bias(model, node) is not None:
                r = accumulator_range(model, model.find_producer(merged_bias(model, node)), ranges, constants)
            else:
                r = rule.value_range(ranges, model, node)
        except ValueError:  # a constant that is not finite (inf, nan) has no exact range: hls4ml's pass names it
            r = None
        if r is not None:
            ranges[node.output[0]] = r
    return ranges


def merged_bias(model: ModelWrapper, add) -> str | None:
    """The dense/conv output an Add of a constant is the bias of (hls4ml merges it into that layer), or None."""
    for k in (0, 1):
        data, const = add.input[k], add.input[1 - k]
        producer = model.find_producer(data)
        if producer is not None and producer.op_type in WEIGHT_OPS and _is_constant(model, const) \
                and len(model.find_consumers(data) or []) == 1 and not (len(producer.input) > 2 and producer.input[2]):
            return data
    return None


def _is_constant(model: ModelWrapper, tensor: str) -> bool:
    return constant_value(model, tensor) is not None


def _bias_after(model: ModelWrapper, node):
    """The constant of the bias Add merged into `node`, as one value per output, or None."""
    consumers = model.find_consumers(node.output[0]) or []
    if len(consumers) != 1 or consumers[0].op_type != "Add" or merged_bias(model, consumers[0]) != node.output[0]:
        return None
    add = consumers[0]
    const = add.input[1] if add.input[0] == node.output[0] else add.input[0]
    return constant_value(model, const).ravel()


def accumulator_range(model: ModelWrapper, node, ranges: dict[str, Range], constants: dict | None = None,
                      with_bias_after: bool = True) -> Range | None:
    """The exact range of a dense/conv layer's bias + sum(w * x), its bias Add merged in: hls4ml's accum_t.
    `constants`: a cache of the quantized constants by tensor name."""
    x = ranges.get(node.input[0])
    if x is None:
        return None
    w, bias = weights_and_bias(model, node, constants)
    if w is None:
        return None
    after = _bias_after(model, node) if with_bias_after else None
    if after is not None:
        after = np.broadcast_to(after, (w.shape[1],))
        bias = after if bias is None else bias + after
    return dot_range(x, w, bias)


def accumulator_bits(model: ModelWrapper, ranges: dict[str, Range]) -> dict[str, int]:
    """Per dense/conv node name: the width of its exact accumulator type (its output's range, or its bias Add's
    when hls4ml merges that into the layer)."""
    bits = {}
    for node in model.graph.node:
        if node.op_type not in WEIGHT_OPS:
            continue
        consumers = model.find_consumers(node.output[0]) or []
        merged = len(consumers) == 1 and consumers[0].op_type == "Add" \
            and merged_bias(model, consumers[0]) == node.output[0]
        r = ranges.get(consumers[0].output[0] if merged else node.output[0])
        if r is not None:
            bits[node.name] = r.to_type().width
    return bits
