"""Stereo custom layers: the correlation cost volume and the argmax disparity regression.

Three layers of the same two operations, each registered once by register() (jpq2hw.extensions.register_all):

1. ONNX (domain `jpq2hw.stereo`, channels-last): `StereoCostVolume` and `StereoArgmax`, as qonnx custom ops
   (shape inference and a numpy execution, so qonnx's transforms and executor handle them).
2. A normalization pass (stage "after", on the channels-last hardware graph) that finds the small-op pattern
   `jpq2hw compress` exports (jpq2hw/compress/stereo.py) and replaces it by one node:
     cost volume: Slice (left/right views) -> per d: [Slice + Pad (shift right by d)], Mul, ReduceSum -> Concat
     regression:  ArgMax(axis=1, keepdims=1, select_last_index=0) -> Cast(float)
   It matches every constant (channel split, shift d of the d-th Concat input, axes, keepdims): anything else
   stays as it is and validation refuses it by name. The reference graph keeps the original ops.
3. hls4ml layers (extension API: register_layer, an ONNX handler, config/function templates, a source file),
   their C++ rendered from templates/stereo/*.j2, and exact-type rules for jpq2hw's exact-precision pass.

Both io types: io_parallel (flat arrays) and io_stream (one nnet::array per pixel, row by row; the cost volume
keeps the last D pixels' right-view features in a shift register per row), overloads of the same C++ function.
"""

from __future__ import annotations


import numpy as np
from onnx import helper

from jpq2hw.core.fixed import Range
from jpq2hw.core.attrs import attr
from jpq2hw.paths import TEMPLATES
from jpq2hw.templating import render

DOMAIN = "jpq2hw.stereo"
PATTERN = "stereo cost volume / disparity regression"
_REGISTERED = False


# ---------------------------------------------------------------------------------------------------------
# numpy semantics (channels-last), shared by the qonnx custom ops and the tests


def cost_volume_nhwc(x: np.ndarray, max_disp: int) -> np.ndarray:
    """x: (N, H, W, 2F) with left features first -> (N, H, W, D), cost[..., x, d] = <L[x], R[x - d]>."""
    f = x.shape[-1] // 2
    left, right = x[..., :f], x[..., f:]
    out = np.zeros((*x.shape[:-1], max_disp), dtype=x.dtype)
    for d in range(max_disp):
        out[:, :, d:, d] = (left[:, :, d:, :] * right[:, :, : x.shape[2] - d, :]).sum(-1)
    return out


def argmax_nhwc(x: np.ndarray) -> np.ndarray:
    """x: (N, H, W, D) -> (N, 1, H, W) float: index of the first maximum over D."""
    return np.argmax(x, axis=-1)[:, None].astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# qonnx custom ops


def _qonnx_ops():
    from qonnx.custom_op.base import CustomOp

    class StereoCostVolume(CustomOp):
        def get_nodeattr_types(self):
            return {"max_disp": ("i", True, 1), "n_feat": ("i", True, 1)}

        def make_shape_compatible_op(self, model):
            n, h, w, _ = model.get_tensor_shape(self.onnx_node.input[0])
            return self.make_const_shape_op([n, h, w, self.get_nodeattr("max_disp")])

        def infer_node_datatype(self, model):
            from qonnx.core.datatype import DataType

            model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

        def execute_node(self, context, graph):
            x = context[self.onnx_node.input[0]]
            context[self.onnx_node.output[0]] = cost_volume_nhwc(x, self.get_nodeattr("max_disp"))

        def verify_node(self):
            return []

    class StereoArgmax(CustomOp):
        def get_nodeattr_types(self):
            return {"max_disp": ("i", True, 1)}

        def make_shape_compatible_op(self, model):
            n, h, w, _ = model.get_tensor_shape(self.onnx_node.input[0])
            return self.make_const_shape_op([n, 1, h, w])

        def infer_node_datatype(self, model):
            from qonnx.core.datatype import DataType

            model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

        def execute_node(self, context, graph):
            context[self.onnx_node.output[0]] = argmax_nhwc(context[self.onnx_node.input[0]])

        def verify_node(self):
            return []

    return StereoCostVolume, StereoArgmax


# ---------------------------------------------------------------------------------------------------------
# pattern pass


def _ints(model, name):
    v = model.get_initializer(name) if name else None
    return None if v is None else [int(i) for i in np.asarray(v).ravel()]


def _slice(model, node):
    """(starts, ends, axes) of a Slice with constant parameters and unit steps, else None."""
    if node is None or node.op_type != "Slice" or len(node.input) < 4:
        return None
    starts, ends, axes = (_ints(model, n) for n in node.input[1:4])
    steps = _ints(model, node.input[4]) if len(node.input) > 4 and node.input[4] else [1]
    if None in (starts, ends, axes) or steps != [1] * len(steps) or not (len(starts) == len(ends) == len(axes) == 1):
        return None
    return starts[0], ends[0], axes[0]


def _root(model, tensor):
    """The channels-last tensor behind a Transpose(0,3,1,2), or the tensor itself (qonnx may duplicate such
    a Transpose for each consumer)."""
    prod = model.find_producer(tensor)
    if prod is not None and prod.op_type == "Transpose" and list(attr(prod, "perm", [])) == [0, 3, 1, 2]:
        return prod.input[0]
    return tensor


def _nhwc_source(model, tensor, new_nodes):
    """The channels-last tensor whose NCHW view `tensor` is: the input of a Transpose(0,3,1,2), or a new
    Transpose(0,2,3,1) of `tensor` (appended to new_nodes)."""
    prod = model.find_producer(tensor)
    if prod is not None and prod.op_type == "Transpose" and list(attr(prod, "perm", [])) == [0, 3, 1, 2]:
        return prod.input[0]
    out = model.make_new_valueinfo_name()
    n, c, h, w = model.get_tensor_shape(tensor)
    model.set_tensor_shape(out, [n, h, w, c])
    new_nodes.append(helper.make_node("Transpose", [tensor], [out], perm=[0, 2, 3, 1]))
    return out


def _match_cost_volume(model, concat):
    """The pattern nodes, the NCHW feature tensor, F and D of a cost-volume Concat, or None."""
    if concat.op_type != "Concat" or attr(concat, "axis") != 1:
        return None
    nodes, source, n_feat = [concat], None, None
    sources = set()
    for d, t in enumerate(concat.input):
        red = model.find_producer(t)
        if red is None or red.op_type != "ReduceSum" or attr(red, "keepdims", 1) != 1 \
                or _ints(model, red.input[1] if len(red.input) > 1 else None) != [1]:
            return None
        mul = model.find_producer(red.input[0])
        if mul is None or mul.op_type != "Mul":
            return None
        found = None
        for a, b in ((mul.input[0], mul.input[1]), (mul.input[1], mul.input[0])):
            ls = model.find_producer(a)
            sl = _slice(model, ls)
            if sl is None or sl[0] != 0 or sl[2] != 1:
                continue
            f = sl[1]
            shifted = model.find_producer(b)
            extra = []
            if d > 0:
                if shifted is None or shifted.op_type != "Pad" or attr(shifted, "mode", "constant") != "constant":
                    continue
                if len(shifted.input) > 2 and shifted.input[2] and np.any(model.get_initializer(shifted.input[2])):
                    continue
                if _ints(model, shifted.input[1]) != [0, 0, 0, d, 0, 0, 0, 0]:
                    continue
                cut = model.find_producer(shifted.input[0])
                width = model.get_tensor_shape(shifted.output[0])[3]
                if _slice(model, cut) != (0, width - d, 3):
                    continue
                extra = [shifted, cut]
                rs = model.find_producer(cut.input[0])
            else:
                rs = shifted
            if _slice(model, rs) != (f, 2 * f, 1):
                continue
            if _root(model, ls.input[0]) != _root(model, rs.input[0]) or model.get_tensor_shape(ls.input[0])[1] != 2 * f:
                continue
            found = (ls, rs, extra, f)
            break
        if found is None:
            return None
        ls, rs, extra, f = found
        if source is None:
            source, n_feat = ls.input[0], f
        elif _root(model, ls.input[0]) != _root(model, source) or f != n_feat:
            return None
        sources.update([ls.input[0], rs.input[0]])
        nodes += [red, mul, ls, rs] + extra
    unique = list({id(n): n for n in nodes}.values())
    for n in unique:  # nothing outside the pattern may read its intermediate tensors
        if n is concat:
            continue
        for o in n.output:
            if any(c not in unique for c in (model.find_consumers(o) or [])):
                return None
    return unique, source, sorted(sources), n_feat, len(concat.input)


def absorb_stereo_patterns(model):
    """Stage "after": replace the exported cost volume and argmax patterns by StereoCostVolume/StereoArgmax."""
    changed = True
    while changed:
        changed = False
        for node in list(model.graph.node):
            if node.op_type == "Concat":
                m = _match_cost_volume(model, node)
                if m is not None:
                    _replace_cost_volume(model, node, *m)
                    changed = True
                    break
            if node.op_type == "ArgMax":
                if _replace_argmax(model, node):
                    changed = True
                    break
    if any(n.domain == DOMAIN for n in model.graph.node) and not any(o.domain == DOMAIN for o in model.model.opset_import):
        model.model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return model


def _remove_dead_transposes(model, tensors):
    for t in tensors:
        prod = model.find_producer(t)
        if prod is not None and prod.op_type == "Transpose" and not model.find_consumers(prod.output[0]) \
                and prod.output[0] not in [o.name for o in model.graph.output]:
            model.graph.node.remove(prod)


def _replace_cost_volume(model, concat, nodes, source, sources, n_feat, max_disp):
    graph = model.graph
    index = list(graph.node).index(concat)
    new_nodes = []
    x = _nhwc_source(model, source, new_nodes)
    out = concat.output[0]
    consumers = model.find_consumers(out) or []
    n, _, h, w = model.get_tensor_shape(out)
    tail = []
    if len(consumers) == 1 and consumers[0].op_type == "Transpose" and list(attr(consumers[0], "perm", [])) == [0, 2, 3, 1] \
            and out not in [o.name for o in graph.output]:
        y = consumers[0].output[0]
        graph.node.remove(consumers[0])
    else:
        y = model.make_new_valueinfo_name()
        model.set_tensor_shape(y, [n, h, w, max_disp])
        tail.append(helper.make_node("Transpose", [y], [out], perm=[0, 3, 1, 2]))
    new_nodes.append(helper.make_node("StereoCostVolume", [x], [y], name=f"StereoCostVolume_{concat.name}",
                                      domain=DOMAIN, max_disp=max_disp, n_feat=n_feat))
    for k, nd in enumerate(new_nodes + tail):
        graph.node.insert(index + k, nd)
    for nd in nodes:
        graph.node.remove(nd)
    _remove_dead_transposes(model, sources)


def _replace_argmax(model, argmax):
    if attr(argmax, "axis", 0) != 1 or attr(argmax, "keepdims", 1) != 1 or attr(argmax, "select_last_index", 0) != 0:
        return False
    consumers = model.find_consumers(argmax.output[0]) or []
    if len(consumers) != 1 or consumers[0].op_type != "Cast" or attr(consumers[0], "to") != 1:  # 1 = FLOAT
        return False
    cast = consumers[0]
    graph = model.graph
    shape = model.get_tensor_shape(argmax.input[0])
    if shape is None or len(shape) != 4:
        return False
    index = list(graph.node).index(argmax)
    new_nodes = []
    x = _nhwc_source(model, argmax.input[0], new_nodes)
    new_nodes.append(helper.make_node("StereoArgmax", [x], [cast.output[0]], name=f"StereoArgmax_{argmax.name}",
                                      domain=DOMAIN, max_disp=shape[1]))
    for k, nd in enumerate(new_nodes):
        graph.node.insert(index + k, nd)
    source = argmax.input[0]
    graph.node.remove(argmax)
    graph.node.remove(cast)
    _remove_dead_transposes(model, [source])
    return True


# ---------------------------------------------------------------------------------------------------------
# hls4ml layers, handlers, templates


def _hls4ml_parts():
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.layers import Layer
    from hls4ml.model.attributes import Attribute, TypeAttribute

    class StereoCostVolume(Layer):
        _expected_attributes = [Attribute("height"), Attribute("width"), Attribute("n_feat"), Attribute("max_disp"),
                                TypeAttribute("accum")]

        def initialize(self):
            self.add_output_variable([self.get_attr("height"), self.get_attr("width"), self.get_attr("max_disp")])

    class StereoArgmax(Layer):
        _expected_attributes = [Attribute("n_pixels"), Attribute("max_disp")]

        def initialize(self):
            shape = self.get_input_variable().shape
            self.add_output_variable([*shape[:-1], 1])

    class CostVolumeConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(StereoCostVolume)

        def format(self, node):
            p = self._default_config_params(node)
            return render("stereo/cost_volume_config.j2", index=p["index"], height=p["height"], width=p["width"],
                          n_feat=p["n_feat"], max_disp=p["max_disp"], accum_t=node.get_attr("accum_t").name).rstrip("\n")

    class ArgmaxConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(StereoArgmax)

        def format(self, node):
            p = self._default_config_params(node)
            return render("stereo/argmax_config.j2", index=p["index"], n_pixels=p["n_pixels"],
                          max_disp=p["max_disp"]).rstrip("\n")

    def function_template(layer_cls, function):
        class Call(FunctionCallTemplate):
            def __init__(self):
                super().__init__(layer_cls, include_header=["nnet_utils/nnet_stereo.h"])

            def format(self, node):
                p = self._default_function_params(node)
                return render("stereo/function_call.j2", function=function, input_t=p["input_t"],
                              output_t=p["output_t"], config=p["config"], input=p["input"],
                              output=p["output"]).strip()

        Call.__name__ = f"{layer_cls.__name__}Call"
        return Call

    def parse_cost_volume(node, input_names, input_shapes, graph):
        _, h, w, c = input_shapes[0]
        return {"name": node.name, "class_name": "StereoCostVolume", "inputs": input_names,
                "outputs": list(node.output), "height": h, "width": w, "n_feat": int(attr(node, "n_feat")),
                "max_disp": int(attr(node, "max_disp")), "data_format": "channels_last"}

    def parse_argmax(node, input_names, input_shapes, graph):
        _, h, w, d = input_shapes[0]
        return {"name": node.name, "class_name": "StereoArgmax", "inputs": input_names, "outputs": list(node.output),
                "n_pixels": h * w, "max_disp": d, "data_format": "channels_last"}

    hls4ml.model.layers.register_layer("StereoCostVolume", StereoCostVolume)
    hls4ml.model.layers.register_layer("StereoArgmax", StereoArgmax)
    from hls4ml.converters.onnx_to_hls import get_supported_onnx_layers, register_onnx_layer_handler

    if "StereoCostVolume" not in get_supported_onnx_layers():
        register_onnx_layer_handler("StereoCostVolume", parse_cost_volume)
        register_onnx_layer_handler("StereoArgmax", parse_argmax)

    header = TEMPLATES / "stereo" / "nnet_stereo.h"  # plain C++: registered as is, no temp copy per import
    for name in ("Vivado", "Vitis"):
        backend = hls4ml.backends.get_backend(name)
        backend.register_template(CostVolumeConfig)
        backend.register_template(ArgmaxConfig)
        backend.register_template(function_template(StereoCostVolume, "stereo_cost_volume"))
        backend.register_template(function_template(StereoArgmax, "stereo_argmax"))
        backend.register_source(header)


# ---------------------------------------------------------------------------------------------------------
# exact types


def cost_volume_rule(layer, ins):
    from jpq2hw.convert import exact_precision

    r = ins[0]
    products = [r.lo * r.lo, r.lo * r.hi, r.hi * r.hi]
    f = int(layer.get_attr("n_feat"))
    out = Range(min(0, f * min(products)), max(0, f * max(products)), 2 * r.frac)
    t = out.to_type()
    exact_precision.set_type(layer, "accum_t", t)
    exact_precision.set_type(layer, "result_t", t)
    return out


def argmax_rule(layer, ins):
    from jpq2hw.convert import exact_precision

    out = Range(0, int(layer.get_attr("max_disp")) - 1, 0)
    exact_precision.set_type(layer, "result_t", out.to_type())
    return out


def register() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    from qonnx.custom_op.registry import add_op_to_domain

    from jpq2hw.convert import exact_precision
    from jpq2hw.ops import register_pattern_ops
    from jpq2hw.normalize.passes import register_pattern_pass

    for op in _qonnx_ops():
        add_op_to_domain(DOMAIN, op)
    register_pattern_ops(["Slice", "Pad", "ReduceSum", "ArgMax", "Mul", "Concat", "Cast"], PATTERN)
    register_pattern_pass(absorb_stereo_patterns, stage="after")
    _hls4ml_parts()
    exact_precision.register_rule("StereoCostVolume", cost_volume_rule)
    exact_precision.register_rule("StereoArgmax", argmax_rule)
    _REGISTERED = True
