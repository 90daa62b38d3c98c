"""The CI share of the bit-accuracy matrix: a fixed seeded subset of generated models and the edge cases,
each built end to end with `run_build` (hls4ml conversion, g++ C-simulation, AXI-Stream wrapper) and
required bit-exact against the reference. Each build runs in its own process (an abort in the compiled C++
fails that case only); about 15-30 s per build. The longer run over many more seeds is
benchmarks/soak_matrix.py. The session prints 'jpq2hw matrix: N/M generated models built bit-exact'."""

import pytest

from testkit.matrix_runner import build_isolated

VECTORS = 40

# (kind, key, io): io is the one the generator draws for these seeds, so each is the model soak_matrix shows.
MATRIX = [
    ("random", 3, "parallel"),  # conv2x2/s2, pool, conv1x1+bias, BN, residual, 2 dense, 3..8 bits, narrow
    ("random", 27, "parallel"),  # conv3x3 stride 2 pad 1 (95 % sparse), pool, conv2x2, unsigned activations
    ("random", 36, "stream"),  # conv1x1, conv3x3 stride 2 pad 1 (99 % sparse), residual, dense + bias
    ("random", 20, "stream"),  # MLP, unsigned input and activations, 80 % sparse
    ("edge", "saturation", "parallel"),
    ("edge", "ties", "stream"),
    ("edge", "zero_single", "parallel"),  # conv pruned to one weight, all-zero dense layer
    ("edge", "wide_accum", "parallel"),  # fan-in 512, > 24-bit accumulator: the float64 reference
    ("edge", "wide_fanin_conv", "stream"),  # 3x3 over 32 channels
]


def _run(kind, key, io, tmp_path, record_matrix):
    row = build_isolated((kind, key, io, VECTORS, str(tmp_path)))
    record_matrix(row["model"], row["io"], row["status"] == "exact", row["reference"], row["max_abs_error"])
    return row


@pytest.mark.slow
@pytest.mark.parametrize("kind,key,io", MATRIX, ids=[f"{k}-{key}-{io}" for k, key, io in MATRIX])
def test_matrix_bit_exact(kind, key, io, tmp_path, record_matrix):
    row = _run(kind, key, io, tmp_path, record_matrix)
    assert row["status"] == "exact", (
        f"{row['model']} [{row['description']}]: {row['status']} {row['error'] or ''} max error "
        f"{row['max_abs_error']}, first divergent layer {row.get('first_divergent_layer')}")
    assert row["exact"] and row["max_abs_error"] == 0


@pytest.mark.slow
def test_narrow_accumulator_rounding(tmp_path):
    """Regression: a 1-bit exact accumulator rounded by a coarser quantizer used to trip ap_types' 'read bit
    beyond MSB' assertion; exact types now keep their MSB at or above the binary point."""
    row = build_isolated(("edge", "narrow_round", "parallel", 10, str(tmp_path)))
    assert row["status"] == "exact", f"{row['status']}: {row['error']}"
