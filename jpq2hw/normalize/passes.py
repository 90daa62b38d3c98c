"""Normalization: bring any exporter's QONNX into the one form the converter expects.

The work is done by qonnx's own transformations (cleanup, identity removal, channels-last, Gemm->MatMul).
The few small rewrites here only complete nodes so that those transformations accept them: exporters may
omit attributes that ONNX gives defaults for, and qonnx's passes read them unconditionally.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.gemm_to_matmul import GemmToMatMul
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.remove import RemoveIdentityOps
from qonnx.core.datatype import DataType
from qonnx.util.cleanup import cleanup_model

from jpq2hw.errors import JpqError
from jpq2hw.frontend.input_type import InputType, suggestion
from jpq2hw.core.node_names import SOURCE_NAME_KEY, node_label
from jpq2hw.frontend.validate import validate_quantizers
from jpq2hw.normalize.channels_last import ConvertToChannelsLastExact
from jpq2hw.normalize import frame_free
from jpq2hw.normalize.exact_rewrites import average_pools_as_sums, grouped_convs_as_dense
from jpq2hw.normalize.layout import (move_depth_to_space_last, prepare_resize_for_hls4ml, resize_channels_last,
                                    standard_layout)
from jpq2hw.normalize.host_split import HostPart, split_head, split_tail
from jpq2hw.normalize.modernize import QONNX_DOMAIN, modernize
from jpq2hw.normalize.streamline import HostIO, needs_streamline, streamline
from jpq2hw.ops import LAYOUT_OPS, QUANTIZER_OPS, WEIGHT_OPS
from jpq2hw.ops.quant import quant_spec, quantized_constant
from jpq2hw.ops.trunc import check_truncs, truncs_as_quants


# Rewrites of multi-node patterns into custom layers (jpq2hw/extensions/ registers them). Each takes and
# returns the hardware ModelWrapper; "before" passes see the NCHW graph, "after" ones the channels-last graph.
PATTERN_PASSES: dict[str, list[Callable[[ModelWrapper], ModelWrapper]]] = {"before": [], "after": []}


def register_pattern_pass(fn: Callable[[ModelWrapper], ModelWrapper], stage: str = "before") -> None:
    if fn not in PATTERN_PASSES[stage]:
        PATTERN_PASSES[stage].append(fn)


@dataclass
class Normalized:
    reference: ModelWrapper  # standard ONNX + Quant, NCHW, batch 1: what onnxruntime runs
    hardware: ModelWrapper  # channels-last, MatMul instead of Gemm: what hls4ml converts
    host: HostIO | None = None  # set when float scales made the hardware integer (see streamline.py)
    head: HostPart | None = None  # float ops before the input quantizer, run on the host
    tail: HostPart | None = None  # float ops after the quantized core (Softmax, Sigmoid...), run on the host
    full_reference: ModelWrapper | None = None  # the whole cleaned model, head and tail included


@dataclass
class NormalizeRun:
    """What the passes share besides the model: the options, and the graphs and host parts some passes set
    aside for the result."""

    source: str
    input_type: InputType | None
    file_input: str  # the file's input name (cleanup renames it)
    full_reference: ModelWrapper | None = None
    reference: ModelWrapper | None = None
    head: HostPart | None = None
    tail: HostPart | None = None
    host: HostIO | None = None


def _copy(model: ModelWrapper) -> ModelWrapper:
    return ModelWrapper(onnx.ModelProto.FromString(model.model.SerializeToString()))


def _set_aside_full_reference(model, run):
    run.full_reference = _copy(model)
    return model


def _split_tail(model, run):
    model, run.tail = split_tail(model)
    return model


def _split_head(model, run):
    model, run.head = split_head(model)
    return model


def _set_aside_reference(model, run):
    run.reference = _copy(model)
    return model


def _pattern_passes(stage: str):
    def apply(model, run):
        for rewrite in PATTERN_PASSES[stage]:
            model = rewrite(model)
        return model
    return apply


def _lift_1d_to_2d(model, run):
    """1-D conv/pool as 2-D with height 1: hls4ml's 1-D ONNX pooling misses attributes, 2-D is complete."""
    if _rank(model, model.graph.input[0].name) != 3:
        return model
    lift_1d_to_2d(model)
    return model.transform(InferShapes())


def _channels_last(model, run):
    if _rank(model, model.graph.input[0].name) <= 2:
        return model
    model = model.transform(ConvertToChannelsLastExact())  # qonnx's, exact for per-channel and 1-bit quantizers
    return resize_channels_last(model)


def _streamline(model, run):
    if needs_streamline(model):
        model, run.host = streamline(model, run.source)
    return model


def _in_place(fn, *with_source):
    """A pass that edits the model in place (with the source name for its messages when asked)."""
    def apply(model, run):
        fn(model, run.source) if with_source else fn(model)
        return model
    return apply


def _rank(model: ModelWrapper, tensor: str) -> int:
    shape = model.get_tensor_shape(tensor)
    return len(shape) if shape is not None else 0


def _set_default(node, name: str, value) -> None:
    if not any(a.name == name for a in node.attribute):
        node.attribute.append(helper.make_attribute(name, value))


def quantize_annotated_input(model: ModelWrapper, source: str) -> None:
    """FINN-style models type their input with a `finn_datatype` quantization annotation (e.g. UINT8) instead of
    a Quant node. Make it explicit: an integer Quant (scale 1) right after the input, which is exactly what the
    annotation promises (integers in the type's range pass unchanged)."""
    name = model.graph.input[0].name
    ann = next((a for a in model.graph.quantization_annotation if a.tensor_name == name), None)
    if ann is None or any(n.op_type in QUANTIZER_OPS and n.input[0] == name for n in model.graph.node):
        return
    dtype = next((p.value for p in ann.quant_parameter_tensor_names if p.key == "finn_datatype"), None)
    if dtype == "BIPOLAR":  # FINN's +1/-1 bits: a BipolarQuant of scale 1 passes them unchanged
        _insert_input_quant(model, True, 1, 1.0, f"{name}_annotated", op="BipolarQuant")
        return
    match = re.fullmatch(r"(U?)INT(\d+)", dtype or "")
    if match is None:
        raise JpqError(f"{source}: input '{name}' is annotated as {dtype}; only INTn/UINTn and BIPOLAR input types "
                       f"are supported")
    signed, bits = match.group(1) == "", int(match.group(2))
    _insert_input_quant(model, signed, bits, 1.0, f"{name}_annotated")


def quantize_declared_input(model: ModelWrapper, input_type: InputType) -> None:
    """--input-type: a Quant with the declared grid on the graph input. On the grid it changes nothing, so the
    model evaluated on grid inputs is the model with this quantizer, which the reference and hardware share.
    A model that quantizes its input itself then does so in hardware, from the declared grid."""
    _insert_input_quant(model, input_type.signed, input_type.bits, input_type.scale,
                        f"{model.graph.input[0].name}_declared")


def _insert_input_quant(model: ModelWrapper, signed: bool, bits: int, scale: float, prefix: str,
                        op: str = "Quant") -> None:
    name = model.graph.input[0].name
    typed = model.make_new_valueinfo_name()
    for node in model.graph.node:
        node.input[:] = [typed if i == name else i for i in node.input]
    for out in model.graph.output:
        if out.name == name:
            raise JpqError(f"the graph input '{name}' is also its output: nothing to build")
    params = []
    for suffix, value in (("scale", scale), ("zeropt", 0.0), ("bits", float(bits)))[:1 if op == "BipolarQuant" else 3]:
        params.append(f"{prefix}_{suffix}")
        model.set_initializer(params[-1], np.array(value, dtype=np.float32))
    attrs = {} if op == "BipolarQuant" else dict(signed=int(signed), narrow=0, rounding_mode="ROUND")
    model.graph.node.insert(0, helper.make_node(op, [name, *params], [typed], name=f"{prefix}_type",
                                                domain=QONNX_DOMAIN, **attrs))
    if not any(o.domain == QONNX_DOMAIN for o in model.model.opset_import):
        model.model.opset_import.append(helper.make_opsetid(QONNX_DOMAIN, 1))


def input_quantizer(model: ModelWrapper):
    """The Quant/BipolarQuant the graph input reaches through layout ops only, or None."""
    frontier, seen = [model.graph.input[0].name], set()
    while frontier:
        for consumer in model.find_consumers(frontier.pop()) or []:
            if consumer.op_type in QUANTIZER_OPS:
                return consumer
            if consumer.op_type in LAYOUT_OPS and consumer.name not in seen:
                seen.add(consumer.name)
                frontier.append(consumer.output[0])
    return None


def check_input_quantized(model: ModelWrapper, source: str, name: str) -> None:
    """The hardware needs the grid of its input. Say so first, before any layer is judged on unquantized data."""
    if input_quantizer(model) is not None:
        return
    raise JpqError(f"{source}: the graph input '{name}' is an unquantized float (no Quant node on it): declare "
                   f"the grid the hardware takes, e.g. --input-type {suggest_input_type(model)}")


def check_hardware_not_empty(model: ModelWrapper, source: str) -> None:
    """A model that is nothing but its input quantizer leaves no hardware: the host quantizes the input."""
    quant = input_quantizer(model)
    if quant is None or any(n is not quant and n.op_type not in LAYOUT_OPS for n in model.graph.node):
        return
    raise JpqError(f"{source}: the model is only its input quantizer ({node_label(quant)}), which runs on the host: "
                   f"the hardware would be a wire; to build the quantizer itself, declare the grid the hardware "
                   f"takes, e.g. --input-type {suggest_input_type(model)}")


DEFAULT_SUGGESTION = "fixed<16,6>"  # hls4ml's default precision, when no quantizer says more


IMAGE_SUGGESTION = "uint8*1/255"  # 8-bit pixels scaled to [0, 1], what image pipelines feed a network
IMAGE_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA


def input_is_an_image(model: ModelWrapper) -> bool:
    """A 2-D input with 1, 3 or 4 channels (NCHW or NHWC) that reaches a Conv before any quantizer."""
    shape = model.get_tensor_shape(model.graph.input[0].name) or []
    if len(shape) != 4 or not (shape[1] in IMAGE_CHANNELS or shape[3] in IMAGE_CHANNELS):
        return False
    frontier, seen = [model.graph.input[0].name], set()
    while frontier:
        for consumer in model.find_consumers(frontier.pop(0)) or []:
            if consumer.op_type == "Conv":
                return True
            if consumer.op_type not in QUANTIZER_OPS and consumer.name not in seen:
                seen.add(consumer.name)
                frontier.extend(consumer.output)
    return False


def suggest_input_type(model: ModelWrapper) -> str:
    """A starting point from the input itself: an image's 8-bit pixels scaled to [0, 1] (the first activation
    quantizer of a conv net quantizes the conv's output, another tensor); otherwise the grid of the first
    activation quantizer downstream of the input (its fractional bits, its integer bits plus a sign bit), or
    hls4ml's default."""
    if input_is_an_image(model):
        return f"{IMAGE_SUGGESTION} (8-bit pixels scaled to [0, 1]; uint8 for raw pixels)"
    frontier, seen = [model.graph.input[0].name], set()
    while frontier:
        for consumer in model.find_consumers(frontier.pop(0)) or []:
            if consumer.name in seen:
                continue
            seen.add(consumer.name)
            if consumer.op_type == "Quant" and model.get_initializer(consumer.input[1]) is not None \
                    and model.get_initializer(consumer.input[3]) is not None:
                q = quant_spec(model, consumer)
                frac = -q.scale_exp
                return suggestion(True, max(frac, 0), max(q.bits - frac, 0) + (0 if q.signed else 1))
            frontier.extend(consumer.output)
    return DEFAULT_SUGGESTION


def bipolar_weights_as_two_bits(model: ModelWrapper) -> None:
    """A 1-bit signed weight Quant (QKeras `binary`) gives -s/+s (qonnx's bipolar case). Store the quantized
    weights and make the Quant 2-bit narrow with the same scale: it passes -s/+s unchanged and is an ordinary
    fixed-point type, so power-of-two binary weights need no integer rewrite (a 1-bit type would hold 0 only)."""
    for node in model.get_nodes_by_op_type("Quant"):
        params = [model.get_initializer(i) for i in node.input]
        if any(p is None for p in params) or np.asarray(params[3]).size != 1 or float(np.asarray(params[3]).ravel()[0]) != 1:
            continue
        attrs = {a.name: a for a in node.attribute}
        if "signed" in attrs and attrs["signed"].i == 0:
            continue
        values = quantized_constant(model, node)
        model.set_initializer(node.input[0], values.astype(np.float32))
        bits = model.make_new_valueinfo_name()
        model.set_initializer(bits, np.array(2.0, dtype=np.float32))
        node.input[3] = bits
        _set_default(node, "narrow", 1)
        next(a for a in node.attribute if a.name == "narrow").i = 1


def fold_quantized_constants(model: ModelWrapper) -> ModelWrapper:
    """Fold every constant subgraph, quantizers included (a quantized bias, a Ceil on constants), with qonnx's
    own execution. Weight quantizers stay: they carry the weights' bit width to the converter and the report."""
    from qonnx.transformation.fold_constants import FoldConstants, FoldConstantsFiltered

    weights = {n.input[1] for n in model.graph.node if n.op_type in WEIGHT_OPS and len(n.input) > 1}

    def is_constant_quantizer(m, node):
        return node.op_type in QUANTIZER_OPS and node.output[0] not in weights

    for node in model.graph.node:  # the folded constant keeps its quantizer's bit width (for weight memory)
        if is_constant_quantizer(model, node) and all(model.get_initializer(i) is not None for i in node.input):
            bits = 1 if node.op_type == "BipolarQuant" else int(model.get_initializer(node.input[3]))
            model.set_tensor_datatype(node.output[0], DataType[f"SCALEDINT<{bits}>"])
    model = model.transform(FoldConstantsFiltered(is_constant_quantizer))
    return model.transform(FoldConstants())


def rename_constants_apart(model: ModelWrapper) -> None:
    """qonnx's cleanup names each constant '<node>_param<k>', renaming one at a time; converters write constants
    that already carry such names (QKeras: Quant_0_param0...). Once a node is added or the nodes are numbered in
    another order, a rename lands on a name still in use ("Found multiple get_by_name matches"). Names that
    cannot collide avoid that; cleanup gives them readable names right after."""
    taken = set(model.get_all_tensor_names()) | {t.name for t in model.graph.initializer}
    for k, init in enumerate(list(model.graph.initializer)):
        new = f"jpq2hw_const_{k}"
        while new in taken:
            new += "_"
        taken.add(new)
        model.rename_tensor(init.name, new)


def remember_source_names(model: ModelWrapper) -> None:
    """qonnx's cleanup renames every node (Op_N); keep the file's name on the node so errors can name both."""
    for node in model.graph.node:  # an unnamed node: the name of the tensor it writes in the file
        name = node.name or (node.output[0] if node.output else "")
        if name and not any(p.key == SOURCE_NAME_KEY for p in node.metadata_props):
            node.metadata_props.add(key=SOURCE_NAME_KEY, value=name)


def separate_repeated_inputs(model: ModelWrapper) -> None:
    """A node that takes one tensor twice (Mul(d, d), a square; a Quant whose scale and bit width are one constant)
    loses the second one in qonnx's tensor renaming, which renames only the first occurrence per node. Feed
    repeated data through Identity nodes for the cleanup; give a repeated constant its own copy."""
    for node in list(model.graph.node):
        seen = set()
        for k, name in enumerate(node.input):
            if name and name in seen:
                copy = model.make_new_valueinfo_name()
                value = model.get_initializer(name)
                if value is None:
                    model.graph.node.insert(list(model.graph.node).index(node),
                                            helper.make_node("Identity", [name], [copy], name=f"{node.name}_repeat{k}"))
                else:
                    model.set_initializer(copy, value)
                node.input[k] = copy
            seen.add(name)


def complete_node_attributes(model: ModelWrapper) -> None:
    """Write out the ONNX defaults that exporters leave implicit (pads, strides, dilations, group,
    rounding_mode): qonnx's channels-last pass and hls4ml read them unconditionally."""
    for node in model.graph.node:
        if node.op_type == "Quant":
            _set_default(node, "rounding_mode", "ROUND")
            _set_default(node, "signed", 1)
            _set_default(node, "narrow", 0)
        elif node.op_type in ("Conv", "MaxPool"):
            kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
            if kernel is None and node.op_type == "Conv":
                w = model.get_initializer(node.input[1])
                if w is None:  # weights behind a Quant node
                    w_shape = model.get_tensor_shape(node.input[1])
                else:
                    w_shape = list(w.shape)
                kernel = list(w_shape[2:])
                _set_default(node, "kernel_shape", kernel)
            n = len(kernel)
            _set_default(node, "strides", [1] * n)
            _set_default(node, "pads", [0] * (2 * n))
            if node.op_type == "Conv":
                _set_default(node, "dilations", [1] * n)
                _set_default(node, "group", 1)


def declare_initializers(model: ModelWrapper) -> None:
    """Give every initializer a value_info entry. qonnx's channels-last pass adds transposed weight
    initializers without one, and its tensor renaming (in cleanup) skips undeclared tensors and then
    collides with their old names ("Found multiple get_by_name matches"); hls4ml needs the shapes too."""
    declared = set(model.get_all_tensor_names())
    for init in model.graph.initializer:
        if init.name not in declared:
            model.graph.value_info.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))


def lift_1d_to_2d(model: ModelWrapper) -> None:
    """Rewrite a 1-D network (N, C, W) as 2-D with height 1 (N, C, 1, W): Conv and MaxPool get a unit first
    spatial axis, their weights and per-channel constants an extra axis. (qonnx's Change3DTo4DTensors refuses
    graphs with Quant, Relu or Gemm nodes, so it cannot be used on QONNX.) The flattened order is unchanged."""
    for node in model.graph.node:
        if node.op_type in ("Conv", "MaxPool"):
            for a in node.attribute:
                if a.name in ("kernel_shape", "strides", "dilations") and len(a.ints) == 1:
                    a.ints[:] = [1, a.ints[0]]
                elif a.name == "pads" and len(a.ints) == 2:
                    a.ints[:] = [0, a.ints[0], 0, a.ints[1]]
        if node.op_type == "Conv":  # weights (O, I, K) -> (O, I, 1, K), possibly behind a Quant node
            w_name = node.input[1]
            producer = model.find_producer(w_name)
            targets = [w_name] if producer is None else [producer.input[0], producer.input[1], w_name]
            for t in targets:
                value = model.get_initializer(t)
                if value is not None and value.ndim == 3:
                    model.set_initializer(t, value[:, :, None, :])
    for init in model.graph.initializer:  # per-channel constants (1, C, 1) of activations
        value = numpy_helper.to_array(init)
        if value.ndim == 3 and value.shape[0] == 1 and value.shape[2] == 1:
            model.set_initializer(init.name, value[:, :, :, None])
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 3 and model.get_initializer(vi.name) is None:
            dims.insert(2, onnx.TensorShapeProto.Dimension(dim_value=1))
    # Conv weights changed rank: drop their stale shape annotations and let InferShapes redo them
    for vi in [v for v in model.graph.value_info if len(v.type.tensor_type.shape.dim) == 3]:
        model.graph.value_info.remove(vi)


def complete_gemm_bias(model: ModelWrapper) -> None:
    """qonnx's GemmToMatMul indexes the bias input unconditionally; give a bias-free Gemm an explicit zero
    bias (exact: it adds nothing, and hls4ml folds it into the Dense layer's bias)."""
    for node in model.graph.node:
        if node.op_type == "Gemm" and len(node.input) == 2:
            n_out = model.get_tensor_shape(node.output[0])[-1]
            name = model.make_new_valueinfo_name()
            model.set_initializer(name, np.zeros((n_out,), dtype=np.float32))
            node.input.append(name)


# The order of normalization, one named pass each: pass(model, run) -> model. The first part reads the file's
# graph as exported; the reference (what onnxruntime checks against) is set aside after the host split; the rest
# makes the hardware graph hls4ml converts.
NORMALIZE_PASSES: list[tuple[str, Callable]] = [
    ("modernize", lambda m, r: modernize(m, r.source)),  # one quantizer domain, opset >= 13
    ("complete_node_attributes", _in_place(complete_node_attributes)),
    ("standard_layout", lambda m, r: standard_layout(m, r.source)),  # qonnx channels-last Conv/MaxPool -> NCHW
    ("quantize_annotated_input", _in_place(quantize_annotated_input, "source")),
    ("quantize_declared_input", lambda m, r: (quantize_declared_input(m, r.input_type) if r.input_type else None) or m),
    ("separate_repeated_inputs", _in_place(separate_repeated_inputs)),
    ("remember_source_names", _in_place(remember_source_names)),
    ("rename_constants_apart", _in_place(rename_constants_apart)),
    ("cleanup", lambda m, r: cleanup_model(m, override_inpsize=1)),
    ("remove_identities", lambda m, r: m.transform(RemoveIdentityOps())),  # also joins the repeated inputs again
    ("fold_quantized_constants", lambda m, r: fold_quantized_constants(m)),  # a quantized bias is a constant
    ("check_truncs", _in_place(check_truncs, "source")),
    ("bipolar_weights_as_two_bits", _in_place(bipolar_weights_as_two_bits)),
    ("move_depth_to_space_last", lambda m, r: move_depth_to_space_last(m)),  # a host-tail layout op at the end
    ("set_aside_full_reference", _set_aside_full_reference),
    ("split_tail", _split_tail),
    ("split_head", _split_head),
    ("check_input_quantized", lambda m, r: check_input_quantized(m, r.source, r.file_input) or m),
    ("check_hardware_not_empty", _in_place(check_hardware_not_empty, "source")),
    ("set_aside_reference", _set_aside_reference),
    ("truncs_as_quants", lambda m, r: truncs_as_quants(m)),  # the reference keeps qonnx's Trunc (lowered as qonnx)
    ("average_pools_as_sums", lambda m, r: average_pools_as_sums(m, r.source)),
    ("grouped_convs_as_dense", lambda m, r: grouped_convs_as_dense(m, r.source)),
    ("infer_shapes", lambda m, r: m.transform(InferShapes())),
    ("patterns_before", _pattern_passes("before")),
    ("lift_1d_to_2d", _lift_1d_to_2d),
    ("channels_last", _channels_last),
    ("declare_initializers", _in_place(declare_initializers)),
    ("patterns_after", _pattern_passes("after")),
    ("complete_gemm_bias", _in_place(complete_gemm_bias)),
    ("gemm_to_matmul", lambda m, r: m.transform(GemmToMatMul())),
    ("cleanup_again", lambda m, r: cleanup_model(m)),
    ("infer_shapes_again", lambda m, r: m.transform(InferShapes())),
    # streamlining relies on sane Quant parameters: checked here, any positive scale allowed
    ("check_quantizers", lambda m, r: validate_quantizers(m, r.source, float_scales_ok=True) or m),
    ("streamline", _streamline),
    ("prepare_resize_for_hls4ml", _in_place(prepare_resize_for_hls4ml, "source")),
    ("declare_initializers_again", _in_place(declare_initializers)),  # hls4ml looks up every input's shape
]


def normalize(model: ModelWrapper, source: str = "model", input_type: InputType | None = None) -> Normalized:
    frame_free.install()  # shape inference and constant folding without frame-size tensors
    run = NormalizeRun(source=source, input_type=input_type, file_input=model.graph.input[0].name)
    for _, apply in NORMALIZE_PASSES:
        model = apply(model, run)
    return Normalized(reference=run.reference, hardware=model, host=run.host, head=run.head, tail=run.tail,
                      full_reference=run.full_reference)
