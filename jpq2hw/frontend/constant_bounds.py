"""Sizes of what normalization would compute, decided from the graph alone, before anything is folded or run.

Normalization folds every node that computes only from constants (qonnx's FoldConstants runs each one in
onnxruntime). A few bytes of graph can ask for gigabytes there: `Range(0, 4e9)`, `ConstantOfShape([5e4, 5e4])`,
`Expand`/`Tile` to a huge shape, an `If` or `Loop` whose body does the same 1e12 times. So, before normalization:

- control flow (any node carrying a subgraph: If, Loop, Scan, ...) is refused: no board runs it, and its cost
  cannot be bounded without running it;
- constant nodes must be standard ONNX ops or the quantizers (an onnxruntime contrib op or a model-local
  function could compute anything);
- ONNX shape inference gives every tensor's shape by arithmetic on shapes and on the initializers that say
  shapes (a Range's bounds, a ConstantOfShape's shape), never by computing a tensor. Its data propagation stays
  off: it computes a Range's values (4e9 of them in 30 s and 4.8 GB). Each tensor must hold at most MAX_VALUES
  values (a constant MAX_CONSTANT_VALUES: folding 1.5e7 values takes ~6 s), the outputs of constant nodes must
  have a known shape (a shape computed by other constant nodes is refused: it is not known without running
  them), and all of them together at most MAX_FOLDED_VALUES.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import AttributeProto

from jpq2hw.errors import JpqError
from jpq2hw.frontend.node_names import node_label

MAX_VALUES = 1 << 26  # any one tensor (the declared-size check's bound: no model for these boards is larger)
MAX_CONSTANT_VALUES = 1 << 24  # any one folded constant: twice the weights a build compiles (limits.MAX_WEIGHTS)
MAX_FOLDED_VALUES = 1 << 26  # every constant a fold would materialize, together (512 MiB at 8 bytes each)
STANDARD_DOMAINS = ("", "ai.onnx")
QUANTIZERS = ("Quant", "BipolarQuant", "Trunc")  # elementwise: the output has the input's shape
GRAPH_ATTRIBUTES = (AttributeProto.GRAPH, AttributeProto.GRAPHS)


def check_control_flow(model, source: str) -> None:
    for node in model.graph.node:
        if any(a.type in GRAPH_ATTRIBUTES for a in node.attribute):
            raise JpqError(f"{source}: {node_label(node)} carries a subgraph (control flow); "
                           f"jpq2hw maps straight-line graphs only")


def check_constant_sizes(model, source: str, constant: set[int]) -> None:
    """Refuse, from shapes alone, any tensor too large and any constant node whose size cannot be known."""
    graph = model.graph
    for k in sorted(constant):
        node = graph.node[k]
        if node.domain not in STANDARD_DOMAINS and node.op_type not in QUANTIZERS:
            raise JpqError(f"{source}: {node_label(node)} (domain '{node.domain}') computes a "
                           f"constant; jpq2hw folds only standard ONNX ops and quantizers")
    for sparse in graph.sparse_initializer:
        _check_count(source, f"sparse initializer '{sparse.values.name or sparse.indices.name}'",
                     list(sparse.dims))
    shapes = inferred_shapes(model)
    folded = 0
    for k, node in enumerate(graph.node):
        for name in node.output:
            shape = shapes.get(name)
            if shape is not None and None not in shape:
                count = _check_count(source, f"{node_label(node)}: tensor '{name}'", shape,
                                     MAX_CONSTANT_VALUES if k in constant else MAX_VALUES)
            elif k in constant:
                raise JpqError(f"{source}: {node_label(node)} computes a constant '{name}' whose "
                               f"shape cannot be known before computing it; jpq2hw refuses to fold it blindly")
            else:
                continue
            if k in constant:
                folded += count
                if folded > MAX_FOLDED_VALUES:
                    raise JpqError(f"{source}: the constant subgraphs compute {folded:,} values up to "
                                   f"{node_label(node)}, more than the {MAX_FOLDED_VALUES:,} that "
                                   f"normalization folds into constants")


def _check_count(source: str, what: str, shape: list, limit: int = MAX_VALUES) -> int:
    if any(d < 0 for d in shape):
        raise JpqError(f"{source}: {what} has a negative dimension {list(shape)}")
    count = int(np.prod([int(d) for d in shape], dtype=object))
    if count > limit:
        raise JpqError(f"{source}: {what} would hold {count:,} values (shape {list(shape)}), more than {limit:,}")
    return count


def inferred_shapes(model) -> dict[str, list | None]:
    """Tensor name -> shape from ONNX shape inference (None for an unknown dimension or shape). The quantizers
    stand in as Identity (elementwise); nothing is computed but shapes."""
    proto = onnx.ModelProto()
    proto.CopyFrom(model.model)
    del proto.graph.value_info[:]  # declared intermediate shapes are the model's claims, not facts
    for node in proto.graph.node:
        if node.op_type in QUANTIZERS:
            x = node.input[0] if node.input else ""
            node.CopyFrom(onnx.helper.make_node("Identity", [x], list(node.output)[:1], name=node.name))
    imported = {o.domain for o in proto.opset_import}
    for domain in sorted({n.domain for n in proto.graph.node} - imported):  # unknown ops: skipped, not an error
        proto.opset_import.append(onnx.helper.make_opsetid(domain, 13 if domain in STANDARD_DOMAINS else 1))
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=False)
    except Exception:  # inconsistent graphs: what is unknown stays unknown, and constant nodes are refused
        inferred = proto
    shapes: dict[str, list | None] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            shapes.setdefault(vi.name, None)
            continue
        shapes.setdefault(vi.name, [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim])
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes
