"""Float ops with no fixed-point form: the host runs them after the quantized core (a "host tail", see
jpq2hw/normalize/host_split.py), with the layout ops around them; and constant-only ops, which normalization
folds away."""

from __future__ import annotations

from jpq2hw.ops.registry import OpRule, register

_HOST_TAIL = OpRule(host="tail")

for _op in ("Softmax", "LogSoftmax", "Sigmoid", "Tanh", "ArgMax", "TopK", "Exp", "Log",
            # distance heads (squared or absolute difference to prototypes, reduced over the embedding)
            "ReduceSum", "ReduceMean", "ReduceL2", "ReduceMax", "Pow", "Sqrt", "Abs", "Neg"):
    register(_op, _HOST_TAIL)
register("Squeeze", OpRule(host="layout", constant=True, reshape=True))
register("Unsqueeze", OpRule(host="layout", constant=True, reshape=True))


def _streamline_depth_to_space(w, node):  # moves values between channels: one map for all of them
    w.passthrough(node, need_scalar=True)


# pixel shuffle: moved to the end, a host-tail layout op
register("DepthToSpace", OpRule(host="layout", inputs=(1, 1), streamline=_streamline_depth_to_space))
# constants and shapes only: they disappear in normalization
for _op in ("Constant", "Shape", "Gather", "Cast"):
    register(_op, OpRule(constant=True))
