"""Flatten, Reshape, Transpose, Identity and Concat: ops that move or relabel values and compute nothing.
Their output holds exactly their input's values (Concat: the union of its inputs')."""

from __future__ import annotations

from jpq2hw.core.fixed import Range
from jpq2hw.ops.registry import OpRule, register


def streamline_Transpose(w, node):
    w.passthrough(node, need_scalar=w.state.get(node.input[0]) is not None)

def streamline_Reshape(w, node):
    w.passthrough(node, need_scalar=True)

def streamline_Flatten(w, node):
    w.passthrough(node, need_scalar=True)

def streamline_Concat(w, node):
    states = [w.state.get(t) for t in node.input]
    if any(s is None or not s.per_tensor or s.relu for s in states) or len({s.alpha[0] for s in states}) != 1 \
            or len({s.beta[0] for s in states}) != 1:
        w.refuse(node, "concatenates tensors with different scales")
    w.state[node.output[0]] = states[0]

def same_range(ranges, model, node) -> Range | None:
    return ranges.get(node.input[0])


def concat_range(ranges, model, node) -> Range | None:
    ins = [ranges.get(t) for t in node.input]
    if any(r is None for r in ins):
        return None
    out = ins[0]
    for r in ins[1:]:
        out = out.union(r)
    return out


_LAYOUT = dict(layout=True, type_preserving=True, value_range=same_range)
register("Flatten", OpRule("Reshape (no hardware)", inputs=(1, 1), rtl="flatten", streamline=streamline_Flatten,
                           reshape=True, **_LAYOUT))
register("Reshape", OpRule("Reshape (no hardware)", inputs=(2, 2), rtl="flatten", streamline=streamline_Reshape,
                           reshape=True, **_LAYOUT))
register("Transpose", OpRule("layout change (no hardware, after channels-last conversion)", inputs=(1, 1),
                             streamline=streamline_Transpose, **_LAYOUT))
register("Identity", OpRule("removed", inputs=(1, 1), rtl="identity", reshape=True, **_LAYOUT))
register("Concat", OpRule("Concatenate", inputs=(1, 1 << 16), streamline=streamline_Concat,
                          value_range=concat_range))
