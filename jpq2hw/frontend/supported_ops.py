"""The op table's views, kept at their old address: the ops themselves are in jpq2hw/ops/ (one module each)."""

from jpq2hw.ops import (  # noqa: F401
    ARITY, CONSTANT_OPS, HOST_OPS, HOST_TAIL_OPS, LAYOUT_OPS, OPS, PATTERN_OPS, QUANT_DOMAINS, QUANTIZER_OPS, RTL_OPS,
    SUPPORTED_OPS, TYPE_PRESERVING_OPS, WEIGHT_OPS, WIRING_OPS, accepted, register_pattern_ops,
)
