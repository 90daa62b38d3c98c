"""Checks on the loaded model that turn what would be a deep traceback later into a one-line error now."""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError
from jpq2hw.core.node_names import node_label as _label
from jpq2hw.frontend.constant_bounds import check_constant_sizes, check_control_flow
from jpq2hw.ops import ARITY, CONSTANT_OPS, HOST_OPS, OPS, PATTERN_OPS, QUANTIZER_OPS, SUPPORTED_OPS, accepted

MAX_ELEMENTS = 1 << 26  # a tensor larger than this cannot be a model for these boards


def validate_structure(model: ModelWrapper, source: str) -> None:
    """Before normalization: one input, one output, known static shapes, ops we can map, Quant present."""
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise JpqError(f"{source}: the model has {len(inputs)} graph inputs; jpq2hw needs exactly one")
    if len(graph.output) != 1:
        raise JpqError(f"{source}: the model has {len(graph.output)} graph outputs; jpq2hw needs exactly one")
    _check_static_shape(inputs[0], source)
    _check_input_type(inputs[0], source)
    _check_declared_sizes(model, source)
    _check_initializers(model, source)
    _check_single_assignment(model, source)
    _check_acyclic(model, source)
    check_control_flow(model, source)

    produced = {o for n in graph.node for o in n.output} | initializers | {inputs[0].name}
    if graph.output[0].name not in produced:
        raise JpqError(f"{source}: the graph output '{graph.output[0].name}' is not produced by any node")
    constant = constant_nodes(model)
    for index, node in enumerate(graph.node):
        label = _label(node)
        if not accepted(node.op_type) and index not in constant:
            raise JpqError(
                f"{source}: {label}: op {node.op_type} cannot be mapped to hardware "
                f"(supported: {', '.join(sorted(SUPPORTED_OPS))})"
            )
        for name in node.input:
            if name and name not in produced:
                raise JpqError(f"{source}: {label}: input '{name}' is neither produced by a node nor an initializer")
        if node.op_type == "Quant" and len(node.input) != 4:
            raise JpqError(f"{source}: {label}: Quant needs 4 inputs (x, scale, zeropt, bitwidth), has {len(node.input)}")
        lo_hi = ARITY.get(node.op_type)
        n_in = len([i for i in node.input if i])
        if lo_hi is not None and not lo_hi[0] <= n_in <= lo_hi[1]:
            want = str(lo_hi[0]) if lo_hi[0] == lo_hi[1] else f"{lo_hi[0]} to {lo_hi[1]}"
            raise JpqError(f"{source}: {label}: op {node.op_type} takes {want} inputs, has {n_in}")
        if len(node.output) != 1 and node.op_type not in CONSTANT_OPS:
            raise JpqError(f"{source}: {label}: op {node.op_type} has {len(node.output)} outputs, expected 1")
        rule = OPS.get(node.op_type)
        if rule is not None and rule.validate is not None:
            rule.validate(model, node, label, source)
    if not any(n.op_type in QUANTIZER_OPS for n in graph.node):
        raise JpqError(
            f"{source}: a float model (no Quant nodes): nothing says which fixed-point types to use; "
            f"quantize it first with `jpq2hw compress`"
        )
    check_constant_sizes(model, source, constant)  # before normalization folds anything


def constant_nodes(model: ModelWrapper) -> set[int]:
    """Positions of the nodes that compute only from constants (a Ceil on a scale, a quantized bias):
    normalization folds them into constants, so any op that onnxruntime can run is fine there."""
    known = {t.name for t in model.graph.initializer}
    found: set[int] = set()
    changed = True
    while changed:  # the graph may not be sorted yet
        changed = False
        for k, node in enumerate(model.graph.node):
            if k not in found and node.input and all(i in known for i in node.input if i):
                found.add(k)
                known.update(node.output)
                changed = True
    return found


def _check_input_type(value_info, source: str) -> None:
    from onnx import TensorProto

    elem = value_info.type.tensor_type.elem_type
    if elem not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
        name = TensorProto.DataType.Name(elem) if elem in TensorProto.DataType.values() else str(elem)
        raise JpqError(f"{source}: input '{value_info.name}' has element type {name}; jpq2hw needs a float input")


def _dims(value_info) -> list[int] | None:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else 0 for d in t.shape.dim]


def _check_declared_sizes(model: ModelWrapper, source: str) -> None:
    """No declared tensor (output, value_info, initializer) may be absurdly large: shape inference and
    constant folding would try to allocate it (terabytes) before anything else looks at the model."""
    graph = model.graph
    for vi in list(graph.output) + list(graph.value_info):
        dims = _dims(vi)
        if dims and any(d < 0 for d in dims):
            raise JpqError(f"{source}: tensor '{vi.name}' declares a negative dimension {dims}")
        if dims and int(np.prod([max(d, 1) for d in dims], dtype=object)) > MAX_ELEMENTS:
            raise JpqError(f"{source}: tensor '{vi.name}' declares shape {dims}, too large")
    for init in graph.initializer:
        dims = list(init.dims)
        if any(d < 0 for d in dims):
            raise JpqError(f"{source}: initializer '{init.name}' declares a negative dimension {dims}")
        if int(np.prod(dims, dtype=object)) > MAX_ELEMENTS:
            raise JpqError(f"{source}: initializer '{init.name}' declares shape {dims}, too large")


def _check_initializers(model: ModelWrapper, source: str) -> None:
    """Every initializer must decode into an array of its declared shape."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        try:
            value = numpy_helper.to_array(init)
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
            raise JpqError(f"{source}: initializer '{init.name}' is corrupt ({msg})") from None
        if list(value.shape) != list(init.dims):
            raise JpqError(f"{source}: initializer '{init.name}' holds {value.size} values, declares {list(init.dims)}")


def _check_single_assignment(model: ModelWrapper, source: str) -> None:
    graph = model.graph
    seen = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    for node in graph.node:
        for name in node.output:
            if not name:
                continue
            if name in seen:
                raise JpqError(f"{source}: {_label(node)}: tensor '{name}' is written twice (ONNX allows one writer)")
            seen.add(name)


def _check_static_shape(value_info, source: str) -> None:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        raise JpqError(f"{source}: input '{value_info.name}' has an unknown shape")
    dims = list(t.shape.dim)
    for i, d in enumerate(dims):
        if d.HasField("dim_value") and d.dim_value > 0:
            continue
        if i == 0:
            continue  # a symbolic batch dimension is fine: it becomes 1
        raise JpqError(
            f"{source}: input '{value_info.name}' has a dynamic or unknown dimension {i} "
            f"('{d.dim_param or '?'}'); export the model with a fixed input size"
        )
    n = int(np.prod([d.dim_value for d in dims[1:]] or [1]))
    if n > MAX_ELEMENTS:
        raise JpqError(f"{source}: input '{value_info.name}' declares {n} elements per sample, too large")


def _check_acyclic(model: ModelWrapper, source: str) -> None:
    producers = {o: n for n in model.graph.node for o in n.output}
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done

    for start in model.graph.node:
        stack = [(start, iter(start.input))]
        if state.get(id(start)) == 2:
            continue
        state[id(start)] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[id(node)] = 2
                stack.pop()
                continue
            parent = producers.get(nxt)
            if parent is None:
                continue
            s = state.get(id(parent))
            if s == 1:
                raise JpqError(f"{source}: the graph has a cycle through node '{parent.name or parent.output[0]}'")
            if s is None:
                state[id(parent)] = 1
                stack.append((parent, iter(parent.input)))


def validate_quantizers(model: ModelWrapper, source: str, float_scales_ok: bool = False) -> None:
    """Every tensor has a known shape, and every Quant has constant parameters that map exactly onto
    ap_fixed; with float_scales_ok (before streamlining makes them integer) any positive scale is fine."""
    _check_inferred_shapes(model, source)
    for node in model.get_nodes_by_op_type("Quant"):
        label = _label(node, model)
        params = [model.get_initializer(n) for n in node.input[1:]]
        if any(p is None for p in params):
            raise JpqError(f"{source}: {label}: Quant scale, zero point and bit width must be constants")
        scale, zeropt, bits = (np.asarray(p, dtype=np.float64) for p in params)
        if (bits.size != 1 or not np.isfinite(bits.item()) or bits.item() != int(bits.item())
                or not 1 <= bits.item() <= 32):
            raise JpqError(f"{source}: {label}: bit width {bits.ravel()[:4].tolist()} is not an integer in 1..32")
        if scale.size == 0 or zeropt.size == 0:
            raise JpqError(f"{source}: {label}: Quant scale and zero point must not be empty")
        x_shape = model.get_tensor_shape(node.input[0]) or []
        try:
            if tuple(np.broadcast_shapes(tuple(x_shape), scale.shape, zeropt.shape)) != tuple(x_shape):
                raise ValueError
        except ValueError:
            raise JpqError(f"{source}: {label}: Quant scale {list(scale.shape)} and zero point {list(zeropt.shape)} "
                           f"do not broadcast to its input {list(x_shape)}") from None
        if np.any(zeropt != 0):
            raise JpqError(f"{source}: {label}: nonzero zero point is not supported (only symmetric quantizers)")
        if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
            raise JpqError(f"{source}: {label}: scale must be positive and finite")
        if np.any(scale < 2.0**-60) or np.any(scale > 2.0**60):
            raise JpqError(f"{source}: {label}: scale {scale.ravel()[0]:.3g} is outside 2^-60..2^60; not a real quantizer")
        mant, _ = np.frexp(scale)
        if not float_scales_ok and np.any(mant != 0.5):
            raise JpqError(
                f"{source}: {label}: scale {scale.ravel()[0]:.6g} is not a power of two; jpq2hw refuses "
                f"to approximate it (export with power-of-two scales, e.g. Brevitas *FixedPoint quantizers)"
            )
        if not float_scales_ok and scale.size > 1 and np.any(scale != scale.ravel()[0]):
            raise JpqError(f"{source}: {label}: per-channel scales are not supported yet (use one scale per tensor)")
        attrs = {a.name: a for a in node.attribute}
        mode = attrs["rounding_mode"].s.decode(errors="replace") if "rounding_mode" in attrs else "ROUND"
        if mode.upper() not in ("ROUND", "FLOOR"):
            raise JpqError(f"{source}: {label}: rounding_mode {mode} is not supported (ROUND or FLOOR)")
        narrow = attrs["narrow"].i if "narrow" in attrs else 0
        signed = attrs["signed"].i if "signed" in attrs else 1
        if narrow and not signed:
            raise JpqError(f"{source}: {label}: narrow range on an unsigned quantizer is not supported")


def _check_inferred_shapes(model: ModelWrapper, source: str) -> None:
    """Shape inference leaves a tensor without a shape when its node's input shapes do not fit together
    (a MatMul of [1, 5] by [6, 4], a Conv kernel larger than its padded input): name that node."""
    for node in model.graph.node:
        for name in node.output:
            shape = model.get_tensor_shape(name) if name else []
            if shape is None or any(not isinstance(d, int) or d < 1 for d in shape):
                ins = ", ".join(f"{i} {model.get_tensor_shape(i)}" for i in node.input if i)
                raise JpqError(f"{source}: {_label(node, model)}: the shape of '{name}' cannot be inferred from its "
                               f"inputs ({ins}); the input shapes do not fit this op")


def validate_hardware_ops(model: ModelWrapper, source: str) -> None:
    """After normalization: an op that is only hardware as part of a pattern must have been absorbed by it."""
    for node in model.graph.node:
        if node.op_type in PATTERN_OPS and node.op_type not in SUPPORTED_OPS:
            also = " or in a host tail after the last quantized layer" if node.op_type in HOST_OPS else ""
            raise JpqError(
                f"{source}: {_label(node)}: op {node.op_type} is supported only as part of a "
                f"{PATTERN_OPS[node.op_type]}{also}, and this one is neither"
            )
        if node.op_type in HOST_OPS and HOST_OPS[node.op_type] == "layout":
            raise JpqError(
                f"{source}: {_label(node)}: op {node.op_type} is supported only in a host tail after the last "
                f"quantized layer (with the Softmax/Sigmoid/ArgMax or distance ops there), not inside the hardware"
            )
        if node.op_type in HOST_OPS and HOST_OPS[node.op_type] == "host tail":
            raise JpqError(
                f"{source}: {_label(node)}: op {node.op_type} has no fixed-point form; it can run on the host "
                f"only at the end of the model, after the last quantized layer"
            )