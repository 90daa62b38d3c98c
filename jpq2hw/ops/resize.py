"""Resize: nearest-neighbour upsampling by integer factors (each value repeated): exact in any arithmetic."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError
from jpq2hw.core.attrs import attr
from jpq2hw.core.node_names import node_label
from jpq2hw.ops.registry import OpRule, register


def nearest_factors(model: ModelWrapper, node, source: str = "model") -> list[int]:
    """The integer factor per axis of a nearest-neighbour Resize, or a one-line refusal naming the node."""
    mode = attr(node, "mode", "nearest")
    if mode != "nearest":
        raise JpqError(f"{source}: {node_label(node)}: Resize mode '{mode}' has no exact fixed-point form "
                       f"(only 'nearest' is supported)")
    shape = model.get_tensor_shape(node.input[0])
    scales = model.get_initializer(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    sizes = model.get_initializer(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    if (scales is None or np.size(scales) == 0) and sizes is not None and shape is not None:
        scales = np.asarray(sizes, dtype=np.float64) / np.asarray(shape, dtype=np.float64)
    if scales is None or np.size(scales) == 0 or shape is None:
        raise JpqError(f"{source}: {node_label(node)}: Resize needs constant scales (or sizes)")
    scales = np.asarray(scales, dtype=np.float64).ravel()
    if np.any(scales < 1) or np.any(scales != np.round(scales)):
        raise JpqError(f"{source}: {node_label(node)}: Resize scales {scales.tolist()} are not integer "
                       f"upsampling factors")
    coord = attr(node, "coordinate_transformation_mode", "half_pixel")
    rounding = attr(node, "nearest_mode", "round_prefer_floor")
    # integer upsampling picks in[floor(i / f)] under 'asymmetric' + floor; other combinations shift by a pixel
    if np.any(scales > 1) and not (coord == "asymmetric" and rounding == "floor") \
            and not (coord in ("half_pixel", "pytorch_half_pixel") and rounding.startswith("round_prefer")):
        raise JpqError(f"{source}: {node_label(node)}: Resize with coordinate_transformation_mode '{coord}' and "
                       f"nearest_mode '{rounding}' is not plain pixel repetition")
    return [int(s) for s in scales]


def streamline_resize(w, node):  # nearest upsampling repeats values: any per-channel map passes through
    w.passthrough(node)


def resize_float64(m, node) -> list:
    """onnxruntime has no float64 Resize: each value repeated (Reshape to a unit axis after each axis, Expand,
    Reshape)."""
    p = f"{node.output[0]}__f64"
    shape = m.get_tensor_shape(node.input[0])
    factors = nearest_factors(m, node)  # validated: integer factors, nearest
    expanded = []
    for d, f in zip(shape, factors):
        expanded += [d, f]
    m.set_initializer(f"{p}_axes", np.asarray([v for d in shape for v in (d, 1)], dtype=np.int64))
    m.set_initializer(f"{p}_expand", np.asarray(expanded, dtype=np.int64))
    m.set_initializer(f"{p}_shape", np.asarray([d * f for d, f in zip(shape, factors)], dtype=np.int64))
    return [helper.make_node("Reshape", [node.input[0], f"{p}_axes"], [f"{p}_u"]),
            helper.make_node("Expand", [f"{p}_u", f"{p}_expand"], [f"{p}_e"]),
            helper.make_node("Reshape", [f"{p}_e", f"{p}_shape"], [node.output[0]], name=node.name)]


register("Resize", OpRule(
    "nearest-neighbour upsampling by integer factors (hls4ml Resize: each value repeated)", inputs=(2, 4),
    streamline=streamline_resize, value_range=lambda ranges, model, node: ranges.get(node.input[0]),
    float64=resize_float64))
