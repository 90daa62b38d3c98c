"""A fully convolutional model at another frame size: the same file with its input's spatial size re-declared.

Used to measure how a step's time grows with the frame (benchmarks/normalize_speed.py) and to compare
normalizations at a size where qonnx's own, slow shape methods finish quickly (tests/build/test_shape_rules.py).
Every inferred shape is dropped (shape inference redoes them); the output keeps its rank only."""

from __future__ import annotations

import onnx


def at_frame(model: onnx.ModelProto, height: int, width: int) -> onnx.ModelProto:
    """A copy of `model` whose 4-D input is height x width: NCHW, or NHWC for a qonnx channels-last file."""
    out = onnx.ModelProto.FromString(model.SerializeToString())
    g = out.graph
    dims = g.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ValueError(f"input of rank {len(dims)}: only 4-D frames can be re-declared")
    channels_last = any(n.domain == "qonnx.custom_op.channels_last" for n in g.node)
    h_axis = 1 if channels_last else 2
    dims[h_axis].dim_value, dims[h_axis + 1].dim_value = height, width
    del g.value_info[:]
    for o in g.output:
        rank = len(o.type.tensor_type.shape.dim)
        o.type.tensor_type.ClearField("shape")
        for _ in range(rank):
            o.type.tensor_type.shape.dim.add()
    return out
