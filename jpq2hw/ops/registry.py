"""The op registry: one OpRule per ONNX op jpq2hw accepts, registered by the op's own module in jpq2hw/ops/.

A rule says what the op means everywhere jpq2hw reads it. The descriptive fields are read by validation, the
host split, annotate, the cost model, `jpq2hw rtl` and the README's "Supported ops"; the hooks are the op's
arithmetic, each read by one walker:

- validate(model, node, label, source): structural checks before normalization (frontend/validate.py),
- needs_streamline(model, node): this node makes the graph need integer streamlining (normalize/streamline.py),
- streamline(walker, node): its affine map, folded or kept by the integer rewrite (normalize/streamline.py),
- value_range(ranges, model, node): the exact Range of its output (annotate/value_ranges.py),
- float64(model, node): standard-ONNX nodes computing it in float64 for the reference (verify/reference.py),
  or None when onnxruntime's own float64 kernel is exact.

This module holds no op: importing jpq2hw.ops registers them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class OpRule:
    becomes: str | None = None  # what it becomes in hardware (README); None: no hardware form of its own
    inputs: tuple[int, int] | None = None  # (min, max) non-empty inputs validation accepts; None: not checked here
    host: str | None = None  # "tail": a float op run on the host after the core; "layout": reshaping around them
    constant: bool = False  # may carry only constants and shapes, which normalization folds away
    layout: bool = False  # moves or relabels values, computes nothing (no hardware of its own)
    type_preserving: bool = False  # its output has its input's quantizer type (annotate walks back through it)
    weights: str | None = None  # "dense" | "conv": a layer with constant weights (annotate, cost model)
    quantizer: bool = False  # sets the fixed-point grid of its output (Quant, BipolarQuant)
    reshape: bool = False  # relabels the shape and keeps the order of the values (the host inverts it on a head)
    host_arith: bool = False  # elementwise arithmetic the host may run in float (a head before the input quantizer,
    #                           a tail with two data inputs)
    rtl: str | None = None  # what `jpq2hw rtl` writes for it; None: refused by name
    validate: Callable | None = None
    needs_streamline: Callable | None = None
    streamline: Callable | None = None
    value_range: Callable | None = None
    float64: Callable | None = None


OPS: dict[str, OpRule] = {}


def register(name: str, rule: OpRule) -> OpRule:
    """Register `rule` for op type `name` (each op once: a second rule for one name is a mistake)."""
    if name in OPS and OPS[name] is not rule:
        raise ValueError(f"op {name} is registered twice")
    OPS[name] = rule
    return rule


def rule(op_type: str) -> OpRule | None:
    return OPS.get(op_type)


# Ops jpq2hw writes itself (streamlining's thresholds, the extensions' custom layers): never accepted from a
# file, but the walkers (value ranges) read their rules like any other op's.
INTERNAL_OPS: dict[str, OpRule] = {}


def register_internal(name: str, rule: OpRule) -> OpRule:
    INTERNAL_OPS[name] = rule
    return rule


def any_rule(op_type: str) -> OpRule | None:
    """The rule of an accepted op or of one jpq2hw writes itself."""
    return OPS.get(op_type) or INTERNAL_OPS.get(op_type)
