"""Jpq2hwThreshold: the op streamlining writes for a quantizer with a float scale (code = lo + step * #{k :
sign_c * x >= T_ck}). jpq2hw makes it itself; a file may not contain it, so it is registered apart from the
accepted ops (jpq2hw/extensions/thresholds.py gives it its hls4ml layer and qonnx executor)."""

from __future__ import annotations

from jpq2hw.core.fixed import Range
from jpq2hw.core.attrs import attr
from jpq2hw.ops.registry import OpRule, register_internal

THRESHOLD_OP = "Jpq2hwThreshold"
THRESHOLD_DOMAIN = "jpq2hw"


def threshold_range(ranges, model, node) -> Range:
    """The integer codes out_lo..out_hi."""
    return Range(int(attr(node, "out_lo")), int(attr(node, "out_hi")), 0)


register_internal(THRESHOLD_OP, OpRule(value_range=threshold_range))
