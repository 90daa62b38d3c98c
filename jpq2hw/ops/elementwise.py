"""Add, Sub, Mul and Div. With a constant operand they are affine maps (a bias, a rescale) folded into the
layer before or the next quantizer; Add/Sub of two activations is a hardware merge layer."""

from __future__ import annotations

import numpy as np

from jpq2hw.core.fixed import Range, constant_range, dot_range
from jpq2hw.ops.registry import OpRule, register


def streamline_Add(w, node):
    const, _, _ = w.const_and_other(node)
    if const is None:
        return w.add_tensors(node, sign=1)
    w.fold(node, lambda al, be, c, _: (al, [x + y for x, y in zip(be, c)]))

def streamline_Sub(w, node):
    const, _, _ = w.const_and_other(node)
    if const is None:
        return w.add_tensors(node, sign=-1)
    w.fold(node, lambda al, be, c, first: ([-x for x in al], [y - x for x, y in zip(be, c)]) if first
               else (al, [x - y for x, y in zip(be, c)]))

def streamline_Mul(w, node):
    if w.const_and_other(node)[0] is None:
        w.refuse(node, "multiplying two tensors is not supported")
    w.fold(node, lambda al, be, c, _: ([x * y for x, y in zip(al, c)], [x * y for x, y in zip(be, c)]))

def streamline_Div(w, node):
    const, _, first = w.const_and_other(node)
    if const is None or first:
        w.refuse(node, "only division by a constant is supported")
    if np.any(np.asarray(const) == 0):
        w.refuse(node, "division by zero")
    w.fold(node, lambda al, be, c, _: ([x / y for x, y in zip(al, c)], [x / y for x, y in zip(be, c)]))

def _constant_operand(model, node):
    """(constant value, the other input) when one operand is an initializer, else (None, None)."""
    for k in (1, 0):
        value = model.get_initializer(node.input[k])
        if value is not None:
            return np.asarray(value, dtype=np.float64), node.input[1 - k]
    return None, None


def add_range(ranges, model, node) -> Range | None:
    """Two activations: the sum of their ranges. A constant: per channel x + c (the union over channels);
    a bias right after a dense/conv layer is merged into it (annotate/value_ranges.py)."""
    const, other = _constant_operand(model, node)
    if const is None:
        a, b = (ranges.get(t) for t in node.input[:2])
        if a is None or b is None:
            return None
        return a + (b if node.op_type == "Add" else Range(-b.hi, -b.lo, b.frac))
    x = ranges.get(other)
    if x is None:
        return None
    if node.op_type == "Sub":
        if other == node.input[1]:  # c - x
            x = Range(-x.hi, -x.lo, x.frac)
        else:
            const = -const
    c = constant_range(const)
    return x + c


def mul_range(ranges, model, node) -> Range | None:
    """y = c * x with a constant c (per channel)."""
    const, other = _constant_operand(model, node)
    x = ranges.get(other) if other is not None else None
    if x is None:
        return None
    return dot_range(x, const.reshape(1, -1))


def _mul_div_needs_streamline(model, node) -> bool:
    """A float rescale between quantizers (e.g. x / 255 after a UINT8 input): hls4ml has no Div, and a factor
    that is not one positive power of two has no fixed-point form; streamlining folds any constant exactly."""
    k = next((model.get_initializer(i) for i in node.input if model.get_initializer(i) is not None), None)
    if k is None:
        return False
    k = np.asarray(k, dtype=np.float64).ravel()
    return bool(node.op_type == "Div" or np.any(k <= 0) or len(set(k.tolist())) > 1 or np.frexp(k[0])[0] != 0.5)


register("Add", OpRule("residual Add of two activations, or a bias folded into the layer before", inputs=(2, 2),
                       rtl="bias Add", host_arith=True, streamline=streamline_Add, value_range=add_range))
register("Sub", OpRule("Subtract of two activations", inputs=(2, 2), host_arith=True, streamline=streamline_Sub,
                       value_range=add_range))
register("Mul", OpRule("scaling by a power-of-two constant (folded into the fixed-point type)", inputs=(2, 2),
                       host_arith=True, needs_streamline=_mul_div_needs_streamline, streamline=streamline_Mul, value_range=mul_range))
register("Div", OpRule("division by a constant (folded exactly into the integer arithmetic and thresholds)",
                       inputs=(2, 2), host_arith=True, needs_streamline=_mul_div_needs_streamline,
                       streamline=streamline_Div))
