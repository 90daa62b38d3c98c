"""MaxPool/GlobalMaxPool (hls4ml pooling: the input's values) and AveragePool/GlobalAveragePool (rewritten
by normalization into an exact window sum, a depthwise Conv of ones, then / size)."""

from __future__ import annotations

from jpq2hw.core.fixed import Range
from jpq2hw.core.attrs import attr
from jpq2hw.ops.linear import validate_window
from jpq2hw.ops.registry import OpRule, register


def streamline_max_pool(w, node):
    w.passthrough(node, need_monotone=True)


def max_pool_range(ranges, model, node) -> Range | None:
    """The input's values; a padded window may also give the pad value 0."""
    x = ranges.get(node.input[0])
    if x is not None and any(attr(node, "pads", [0])):
        x = x.union(Range(0, 0, x.frac))
    return x


register("MaxPool", OpRule("MaxPooling1D/2D", inputs=(1, 1), type_preserving=True, rtl="max-pool",
                           validate=validate_window, streamline=streamline_max_pool, value_range=max_pool_range))
register("GlobalMaxPool", OpRule("GlobalMaxPooling", inputs=(1, 1), type_preserving=True,
                                 streamline=streamline_max_pool, value_range=max_pool_range))
register("AveragePool", OpRule(
    "an exact window sum (depthwise Conv of ones), then / size: a shift for a power of two, else folded into the "
    "next quantizer's thresholds", inputs=(1, 1), validate=validate_window))
register("GlobalAveragePool", OpRule("as AveragePool, over the whole feature map", inputs=(1, 1)))
