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
from jpq2hw.core.attrs import attr
from jpq2hw.core.node_names import node_label
from jpq2hw.ops.resize import nearest_factors


ELEMENTWISE_AFTER_SHUFFLE = ("Relu", "LeakyRelu", "Quant", "Identity")


def _per_tensor(model: ModelWrapper, node) -> bool:
    if node.op_type != "Quant":
        return True
    return all(model.get_initializer(i) is not None and np.size(model.get_initializer(i)) == 1
               for i in node.input[1:])


def move_depth_to_space_last(model: ModelWrapper) -> ModelWrapper:
    """Swap each DepthToSpace with the per-tensor elementwise ops that follow it, until it ends the graph."""
    from qonnx.transformation.infer_shapes import InferShapes

    changed, moved = True, False
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
            changed = moved = True
    return model.transform(InferShapes()) if moved else model


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
        if len(node.input) > 1 and node.input[1] and model.get_initializer(node.input[1]) is not None:
            model.set_initializer(node.input[1], np.zeros(1, dtype=np.float32))


def resize_channels_last(model: ModelWrapper) -> ModelWrapper:
    """qonnx's channels-last pass leaves a Resize in NCHW between two Transposes; make it a channels-last
    Resize (scales permuted the same way), which is what hls4ml's Resize layer reads."""
    for node in model.get_nodes_by_op_type("Resize"):
        before = model.find_producer(node.input[0])
        after = model.find_consumers(node.output[0]) or []
        if before is None or before.op_type != "Transpose" or len(after) != 1 or after[0].op_type != "Transpose":
            continue
        perm_in, perm_out = list(attr(before, "perm", [])), list(attr(after[0], "perm", []))
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


CHANNELS_LAST_DOMAIN = "qonnx.custom_op.channels_last"
# ops that act the same on NCHW as on NHWC data, given per-tensor constants
_LAYOUT_FREE = ("Quant", "BipolarQuant", "Relu", "LeakyRelu", "Identity", "Add", "Sub", "Mul", "Div")


def standard_layout(model: ModelWrapper, source: str = "model") -> ModelWrapper:
    """A file that qonnx already turned channels-last (Conv/MaxPool in the `qonnx.custom_op.channels_last`
    domain, NHWC input, weights stored [C_out, k, k, C_in/group]) becomes the standard NCHW graph every later
    step expects: a Transpose after the input and before the output, weights back to [C_out, C_in/group, k, k],
    Resize scales and Concat axes permuted. Refused in one line for any op this does not know how to move."""
    graph = model.graph
    if not any(n.domain == CHANNELS_LAST_DOMAIN for n in graph.node):
        return model
    inp, out = graph.input[0].name, graph.output[0].name
    nchw_in, nhwc_out = f"{inp}_nchw", f"{out}_nchw"
    rank = len(model.get_tensor_shape(inp) or [])
    if rank != 4:
        raise JpqError(f"{source}: channels-last graph with a rank-{rank} input: only 2-D (NHWC) is supported")
    for node in graph.node:
        node.input[:] = [nchw_in if i == inp else i for i in node.input]
        node.output[:] = [nhwc_out if o == out else o for o in node.output]
    data = {nchw_in}
    for node in graph.node:
        if not any(i in data for i in node.input):
            continue
        label = f"{source}: {node_label(node)}"
        if node.domain == CHANNELS_LAST_DOMAIN and node.op_type in ("Conv", "MaxPool"):
            node.domain = ""
            if node.op_type == "Conv":
                _weights_to_oihw(model, node.input[1], label)
        elif node.op_type in _LAYOUT_FREE:
            for i in node.input:
                c = model.get_initializer(i) if i not in data else None
                if c is not None and np.size(c) != 1 and not (node.op_type in ("Quant", "BipolarQuant") and i == node.input[3]):
                    raise JpqError(f"{label}: a per-channel constant on channels-last data is not supported")
        elif node.op_type == "Resize":
            scales = np.asarray(model.get_initializer(node.input[2]), dtype=np.float32)
            model.set_initializer(node.input[2], scales[[0, 3, 1, 2]])
        elif node.op_type == "Concat":
            axis = next(a for a in node.attribute if a.name == "axis")
            axis.i = {3: 1, -1: 1, 1: 2, 2: 3, -3: 2, -2: 3}.get(axis.i, axis.i)
        else:
            raise JpqError(f"{label}: op {node.op_type} in a channels-last graph cannot be moved back to NCHW")
        data.update(node.output)
    graph.node.insert(0, helper.make_node("Transpose", [inp], [nchw_in], name="channels_last_input", perm=[0, 3, 1, 2]))
    graph.node.append(helper.make_node("Transpose", [nhwc_out], [out], name="channels_last_output", perm=[0, 2, 3, 1]))
    keep = {inp, out}
    for vi in [v for v in graph.value_info if v.name not in keep and model.get_initializer(v.name) is None]:
        graph.value_info.remove(vi)  # shapes change; inferred again
    from qonnx.transformation.infer_shapes import InferShapes

    return model.transform(InferShapes())


def _weights_to_oihw(model: ModelWrapper, name: str, label: str) -> None:
    """[C_out, k, k, C_in/g] -> [C_out, C_in/g, k, k], the weights possibly behind a Quant (its per-output-
    channel scale [C_out, 1, 1, 1] reads the same either way)."""
    producer = model.find_producer(name)
    target = producer.input[0] if producer is not None and producer.op_type in ("Quant", "BipolarQuant") else name
    w = model.get_initializer(target)
    if w is None or w.ndim != 4:
        raise JpqError(f"{label}: channels-last Conv weights must be a constant of rank 4")
    if producer is not None:
        for p in producer.input[1:]:
            c = model.get_initializer(p)
            if c is not None and c.ndim == 4 and c.shape[1:] != (1, 1, 1):
                raise JpqError(f"{label}: weight scale of shape {list(c.shape)} is not per output channel")
    model.set_initializer(target, np.ascontiguousarray(w.transpose(0, 3, 1, 2)))
    for vi in [v for v in model.graph.value_info if v.name in (target, name)]:
        model.graph.value_info.remove(vi)
