"""Resource limits: a build is refused before any heavy work (hls4ml, g++, the test vectors) when its shapes say
that no listed board can hold it or that its check cannot finish in reasonable time. Each refusal is one line
naming the layer or tensor and the number; `--no-limits` lifts them all (for people who mean it).

The numbers (measured on this project's 2-core machine, shared with other jobs):
- nodes: normalization and conversion cost ~0.25 s per node (a chain of 1,000 Relu nodes built in 237 s);
- weights: hls4ml writes every weight into a C++ header that g++ compiles as a constant (a 512x512 dense layer,
  262,144 weights, built in 20 s: hls4ml 5.3 s, g++ 8.5 s; the time grows with the weights, ~10 min at 2^23);
- storage: a layer's nonzero weights x their bits must fit the largest board's memory (BRAM + URAM + every LUT
  as 64-bit distributed RAM + every flip-flop: an upper bound, so exceeding it means no listed board fits);
- C-simulation: multiply-accumulates x vectors (the digits CNN ran 1.2e8 in 8 s: ~1.5e7 per second);
- vectors: inputs, expected outputs and hardware outputs are held in memory as float64.
"""

from __future__ import annotations

import numpy as np

from jpq2hw.errors import JpqError

MAX_NODES = 2_000
MAX_TENSOR_VALUES = 1 << 24  # per inference, any one tensor
MAX_WEIGHTS = 1 << 23  # per design: every one is a C++ constant g++ compiles
MAX_CSIM_MACS = 10**10  # per build: vectors x multiply-accumulates per inference
MAX_VECTOR_BYTES = 2 << 30  # float64 inputs + outputs of every vector, with the copies the check makes
VECTOR_COPIES = 4  # inputs, hardware inputs, expected, hardware outputs
OVERRIDE = "--no-limits"


class LimitExceeded(JpqError):
    """A design past a resource limit. One line; says how to build it anyway."""

    def __init__(self, message: str):
        super().__init__(f"{message}; pass {OVERRIDE} to build it anyway")


def check_graph_size(model, source: str) -> None:
    """Right after loading: the node count bounds the time of everything that follows."""
    n = len(model.graph.node)
    if n > MAX_NODES:
        raise LimitExceeded(f"{source}: the graph has {n:,} nodes, more than the {MAX_NODES:,} a build handles in "
                            f"reasonable time (normalization and conversion take ~0.25 s per node)")


def storage_bits(board) -> int:
    """An upper bound on the bits a board can hold (BRAM36, URAM, LUTs as 64-bit RAM, flip-flops)."""
    r = board.resources
    return r.bram36 * 36 * 1024 + r.uram * 288 * 1024 + r.lut * 64 + r.ff


def check_design(model, analysis, vectors: int, source: str, boards: list) -> None:
    """After annotation, before conversion: tensors, weights, storage, C-simulation time, vector memory."""
    from jpq2hw.core.node_names import source_name

    for node in model.graph.node:
        for name in node.output:
            shape = model.get_tensor_shape(name)
            values = int(np.prod([max(int(d), 1) for d in shape[1:]])) if shape else 0
            if values > MAX_TENSOR_VALUES:
                raise LimitExceeded(f"{source}: tensor '{name}' of node '{source_name(node)}' ({node.op_type}) holds "
                                    f"{values:,} values per inference, more than {MAX_TENSOR_VALUES:,}")
    if boards:
        room = max(storage_bits(b) for b in boards)
        largest = max(boards, key=storage_bits).name
        for layer in analysis.layers:
            bits = layer.nonzero_params * layer.weight_bits
            if bits > room:
                raise LimitExceeded(f"{source}: layer '{layer.name}' needs {bits:,} bits for its nonzero weights, more "
                                    f"than the largest listed board ({largest}) can hold at all ({room:,} bits)")
    weights = sum(layer.params for layer in analysis.layers)
    if weights > MAX_WEIGHTS:
        biggest = max(analysis.layers, key=lambda layer: layer.params)
        raise LimitExceeded(f"{source}: {weights:,} weights (layer '{biggest.name}' has {biggest.params:,}), more than "
                            f"the {MAX_WEIGHTS:,} g++ compiles as C++ constants in reasonable time")
    macs = sum(layer.params * layer.macs_per_weight for layer in analysis.layers)
    if macs * vectors > MAX_CSIM_MACS:
        raise LimitExceeded(f"{source}: the C-simulation of {vectors} vectors needs {macs * vectors:,} "
                            f"multiply-accumulates ({macs:,} per inference), more than {MAX_CSIM_MACS:,}; "
                            f"fewer --vectors may fit")
    in_shape, out_shape = model.get_tensor_shape(model.graph.input[0].name), model.get_tensor_shape(
        model.graph.output[0].name)
    per_vector = sum(int(np.prod([max(int(d), 1) for d in s[1:]])) for s in (in_shape, out_shape) if s)
    need = per_vector * 8 * VECTOR_COPIES * vectors
    if need > MAX_VECTOR_BYTES:
        raise LimitExceeded(f"{source}: {vectors} test vectors of {per_vector:,} input and output values need "
                            f"{need / 2**30:.1f} GiB of memory, more than {MAX_VECTOR_BYTES / 2**30:.0f} GiB; "
                            f"fewer --vectors (or --input-data samples) may fit")
