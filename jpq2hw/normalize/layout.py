"""Layout ops in the working copy: upsampling and pixel shuffles as exact data movement.

- nearest-neighbour Resize by integer factors (what Brevitas/PyTorch `Upsample(mode='nearest')` exports) is
  each value repeated: exact in hardware (hls4ml's Resize layer) and in any arithmetic;
- DepthToSpace (pixel shuffle) has no hls4ml layer; it only moves values, so it commutes with the per-tensor
  elementwise ops after it (Relu, LeakyRelu, a Quant with one scale). Moved to the end of the graph it is a
  layout op of the host tail: exact wherever it runs.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError
from jpq2hw.frontend.node_names import node_label


def _attr(node, name, default=None):
    a = next((a for a in node.attribute if a.name == name), None)
    if a is None:
        return default
    v = helper.get_attribute_value(a)
    return v.decode() if isinstance(v, bytes) else v


def nearest_factors(model: ModelWrapper, node, source: str = "model") -> list[int]:
    """The integer factor per axis of a nearest-neighbour Resize, or a one-line refusal naming the node."""
    mode = _attr(node, "mode", "nearest")
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
    coord = _attr(node, "coordinate_transformation_mode", "half_pixel")
    rounding = _attr(node, "nearest_mode", "round_prefer_floor")
    # integer upsampling picks in[floor(i / f)] under 'asymmetric' + floor; other combinations shift by a pixel
    if np.any(scales > 1) and not (coord == "asymmetric" and rounding == "floor") \
            and not (coord in ("half_pixel", "pytorch_half_pixel") and rounding.startswith("round_prefer")):
        raise JpqError(f"{source}: {node_label(node)}: Resize with coordinate_transformation_mode '{coord}' and "
                       f"nearest_mode '{rounding}' is not plain pixel repetition")
    return [int(s) for s in scales]


ELEMENTWISE_AFTER_SHUFFLE = ("Relu", "LeakyRelu", "Quant", "Identity")


def _per_tensor(model: ModelWrapper, node) -> bool:
    if node.op_type != "Quant":
        return True
    return all(model.get_initializer(i) is not None and np.size(model.get_initializer(i)) == 1
               for i in node.input[1:])


def move_depth_to_space_last(model: ModelWrapper) -> ModelWrapper:
    """Swap each DepthToSpace with the per-tensor elementwise ops that follow it, until it ends the graph."""
    changed = True
    while changed:
        changed = False
        for node in model.get_nodes_by_op_type("DepthToSpace"):
            consumers = model.find_consumers(node.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type not in ELEMENTWISE_AFTER_SHUFFLE \
                    or not _per_tensor(model, consumers[0]):
                continue
            nxt = consumers[0]
            x, mid, out = node.input[0], node.output[0], nxt.output[0]
            # x -> nxt -> mid -> DepthToSpace -> out
            nxt.input[0] = x
            nxt.output[0] = mid
            node.input[0] = mid
            node.output[0] = out
            nodes = list(model.graph.node)
            i, j = nodes.index(node), nodes.index(nxt)
            nodes[i], nodes[j] = nodes[j], nodes[i]
            del model.graph.node[:]
            model.graph.node.extend(nodes)
            for vi in [v for v in model.graph.value_info if v.name == mid]:
                model.graph.value_info.remove(vi)  # its shape changed (before the shuffle now)
            changed = True
    return model


def prepare_resize_for_hls4ml(model: ModelWrapper, source: str = "model") -> None:
    """On the channels-last hardware graph: hls4ml's Resize layer reads (H, W) as (W, H), so only square maps
    with equal factors are safe; its constant-removal pass tests the RoI's truth value, which an empty array
    (what PyTorch exports) cannot give: a one-element zero RoI is what it can read (RoI is unused by 'nearest')."""
    for node in model.get_nodes_by_op_type("Resize"):
        shape = model.get_tensor_shape(node.input[0])
        factors = nearest_factors(model, node, source)
        if len(shape) == 4 and (shape[1] != shape[2] or factors[1] != factors[2]):
            raise JpqError(f"{source}: {node_label(node)}: Resize of a {shape[1]}x{shape[2]} map by "
                           f"{factors[1]}x{factors[2]}: only square maps with equal factors are supported")
        if len(node.input) > 1 and node.input[1]:
            roi = model.make_new_valueinfo_name()
            model.set_initializer(roi, np.zeros(1, dtype=np.float32))
            node.input[1] = roi


def resize_channels_last(model: ModelWrapper) -> ModelWrapper:
    """qonnx's channels-last pass leaves a Resize in NCHW between two Transposes; make it a channels-last
    Resize (scales permuted the same way), which is what hls4ml's Resize layer reads."""
    for node in model.get_nodes_by_op_type("Resize"):
        before = model.find_producer(node.input[0])
        after = model.find_consumers(node.output[0]) or []
        if before is None or before.op_type != "Transpose" or len(after) != 1 or after[0].op_type != "Transpose":
            continue
        perm_in, perm_out = list(_attr(before, "perm", [])), list(_attr(after[0], "perm", []))
        rank = len(perm_in)
        if rank < 3 or perm_in != [0, rank - 1, *range(1, rank - 1)] or perm_out != [0, *range(2, rank), 1]:
            continue
        if len(model.find_consumers(before.output[0]) or []) != 1:
            continue
        scales = np.asarray(model.get_initializer(node.input[2]), dtype=np.float32)
        model.set_initializer(node.input[2], scales[[0, *range(2, rank), 1]])
        node.input[0] = before.input[0]
        node.output[0] = after[0].output[0]
        model.graph.node.remove(before)
        model.graph.node.remove(after[0])
    return model
