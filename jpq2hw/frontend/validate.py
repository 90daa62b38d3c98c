"""Checks on the loaded model that turn what would be a deep traceback later into a one-line error now."""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError
from jpq2hw.frontend.supported_ops import CONSTANT_OPS, SUPPORTED_OPS

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
    _check_acyclic(model, source)

    produced = {o for n in graph.node for o in n.output} | initializers | {inputs[0].name}
    for node in graph.node:
        label = f"node '{node.name or node.output[0]}'"
        if node.op_type in ("BipolarQuant", "Trunc"):
            raise JpqError(f"{source}: {label}: op {node.op_type} is not supported yet")
        if node.op_type not in SUPPORTED_OPS and node.op_type not in CONSTANT_OPS:
            raise JpqError(
                f"{source}: {label}: op {node.op_type} cannot be mapped to hardware "
                f"(supported: {', '.join(sorted(SUPPORTED_OPS))})"
            )
        for name in node.input:
            if name and name not in produced:
                raise JpqError(f"{source}: {label}: input '{name}' is neither produced by a node nor an initializer")
        if node.op_type == "Quant" and len(node.input) != 4:
            raise JpqError(f"{source}: {label}: Quant needs 4 inputs (x, scale, zeropt, bitwidth), has {len(node.input)}")
    if not any(n.op_type == "Quant" for n in graph.node):
        raise JpqError(
            f"{source}: a float model (no Quant nodes): nothing says which fixed-point types to use; "
            f"quantize it first with `jpq2hw compress`"
        )


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


def validate_quantizers(model: ModelWrapper, source: str) -> None:
    """After normalization: every Quant has constant parameters that map exactly onto ap_fixed."""
    for node in model.get_nodes_by_op_type("Quant"):
        label = f"node '{node.name}'"
        params = [model.get_initializer(n) for n in node.input[1:]]
        if any(p is None for p in params):
            raise JpqError(f"{source}: {label}: Quant scale, zero point and bit width must be constants")
        scale, zeropt, bits = (np.asarray(p, dtype=np.float64) for p in params)
        if bits.size != 1 or bits.item() != int(bits.item()) or not 2 <= bits.item() <= 32:
            raise JpqError(f"{source}: {label}: bit width {bits.ravel()[:4].tolist()} is not an integer in 2..32")
        if np.any(zeropt != 0):
            raise JpqError(f"{source}: {label}: nonzero zero point is not supported (only symmetric quantizers)")
        if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
            raise JpqError(f"{source}: {label}: scale must be positive and finite")
        mant, _ = np.frexp(scale)
        if np.any(mant != 0.5):
            raise JpqError(
                f"{source}: {label}: scale {scale.ravel()[0]:.6g} is not a power of two; jpq2hw refuses "
                f"to approximate it (export with power-of-two scales, e.g. Brevitas *FixedPoint quantizers)"
            )
        if scale.size > 1 and np.any(scale != scale.ravel()[0]):
            raise JpqError(f"{source}: {label}: per-channel scales are not supported yet (use one scale per tensor)")
        attrs = {a.name: a for a in node.attribute}
        mode = attrs["rounding_mode"].s.decode() if "rounding_mode" in attrs else "ROUND"
        if mode.upper() not in ("ROUND", "FLOOR"):
            raise JpqError(f"{source}: {label}: rounding_mode {mode} is not supported (ROUND or FLOOR)")
        narrow = attrs["narrow"].i if "narrow" in attrs else 0
        signed = attrs["signed"].i if "signed" in attrs else 1
        if narrow and not signed:
            raise JpqError(f"{source}: {label}: narrow range on an unsigned quantizer is not supported")
