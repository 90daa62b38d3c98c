"""The promise: every built model's C++ equals onnxruntime bit for bit, and a broken type is caught."""

import json

import numpy as np
import pytest

from jpq2hw.build import BuildOptions, run_build
from jpq2hw.convert import exact_precision

pytestmark = pytest.mark.slow

REPORT_KEYS = {"model", "board", "backend", "io_type", "bit_exact", "vectors", "mismatched_vectors", "max_abs_error",
               "first_divergent_layer", "layers", "totals", "timings_s"}
LAYER_KEYS = {"name", "op", "weight_bits", "act_bits", "params", "nonzero_params", "sparsity", "weight_memory_bits",
              "accum_bits", "bops"}


@pytest.mark.parametrize("kind,io", [
    ("sparse_mlp", "parallel"),
    ("conv_stack", "parallel"),
    ("conv_stack", "stream"),
    ("brevitas_mlp", "parallel"),
    ("brevitas_conv", "stream"),
])
def test_build_is_bit_exact(model_file, tmp_path, kind, io):
    out = tmp_path / "out"
    code, report = run_build(BuildOptions(model=model_file(kind), out=out, io=io, quiet=True))
    assert report["mismatched_vectors"] == 0, report["first_divergent_layer"]
    assert code == 0 and report["bit_exact"] is True
    assert report["vectors"] >= 100 and report["max_abs_error"] == 0.0
    on_disk = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(on_disk) and on_disk["bit_exact"] is True
    assert all(LAYER_KEYS <= set(layer) for layer in on_disk["layers"])
    assert on_disk["io_type"] == f"io_{io}"
    for rel in ("hls/firmware/myproject.cpp", "board/build_ip.tcl", "board/myproject_axis.cpp", "board/Makefile",
                "board/README.md", "vectors/inputs.npy", "vectors/expected.npy", "report.md"):
        assert (out / rel).is_file(), rel
    # the saved expected outputs are what the check compared against
    assert np.load(out / "vectors" / "expected.npy").shape[0] == report["vectors"]


def test_sparsity_and_accumulators_are_reported(model_file, tmp_path):
    _, report = run_build(BuildOptions(model=model_file("sparse_mlp"), out=tmp_path / "o", quiet=True, vectors=20))
    first, second = report["layers"]
    assert first["params"] == 16 * 32 and 0.9 <= first["sparsity"] < 0.95  # random ints add a few zeros
    # CSR or dense, whichever is smaller (jpq2hw/metrics.py), plus the 32 biases
    stored = min(16 * 32 * 3, first["nonzero_params"] * (3 + 4) + 32 * 5)  # fan-in 16: index 4 bits, count 5
    assert first["bias_count"] == 32 and first["weight_memory_bits"] == stored + 32 * first["bias_bits"]
    assert first["bops"] == first["nonzero_params"] * 3 * 8
    # exact accumulator: 8-bit input x 3-bit weights over ~2 nonzero inputs per output, not hls4ml's 32 bits
    assert first["accum_bits"] is not None and first["accum_bits"] < 20


def test_user_input_data_is_checked_too(model_file, tmp_path):
    data = np.random.default_rng(3).normal(size=(7, 16)) * 3  # off-grid and out of range: the input Quant rounds
    np.save(tmp_path / "x.npy", data)
    code, report = run_build(BuildOptions(model=model_file("sparse_mlp"), out=tmp_path / "o", quiet=True,
                                          vectors=10, input_data=tmp_path / "x.npy"))
    assert code == 0 and report["vectors"] == 17


def test_a_wrong_type_is_caught_and_located(model_file, tmp_path, monkeypatch):
    """Sabotage: give the first Dense layer's accumulator 3 integer bits too few. The check must fail,
    exit 1, and name that layer as the first that diverges."""
    real = exact_precision.set_type

    def narrow(layer, attr, t):
        if layer.class_name == "Dense" and attr in ("accum_t", "result_t") and "MatMul_0" in layer.name:
            t = type(t)(t.signed, t.width - 3, t.integer - 3, t.rounding, t.saturation)
        real(layer, attr, t)

    monkeypatch.setattr(exact_precision, "set_type", narrow)
    code, report = run_build(BuildOptions(model=model_file("sparse_mlp"), out=tmp_path / "o", quiet=True, vectors=30))
    assert code == 1 and report["bit_exact"] is False
    assert report["mismatched_vectors"] > 0 and report["max_abs_error"] > 0
    assert report["first_divergent_layer"] is not None and "MatMul_0" in report["first_divergent_layer"]
    assert "NO" in (tmp_path / "o" / "report.md").read_text()
