"""Memory / BOPs: hand-checked numbers, and the torch and QONNX readings agree."""

import torch
import torch.nn as nn

from jpq2hw.compress.metrics import layer_bops, layer_memory_bits, model_metrics, qonnx_metrics, sparse_bits
from jpq2hw.compress import to_qonnx

from .test_export import CASES, grid_input, quantized


def test_hand_numbers():
    # 8 rows of fan-in 144 (16 channels x 3x3), 4-bit weights, 50 nonzero:
    # index 8 bits (ceil log2 144), row count 8 bits (ceil log2 145)
    assert sparse_bits(50, 8 * 144, 8, 4) == 50 * (4 + 8) + 8 * 8
    assert layer_memory_bits(50, 8 * 144, 8, 4) == 664                 # sparse wins over 4608 dense
    assert layer_memory_bits(1000, 8 * 144, 8, 4) == 8 * 144 * 4       # dense wins
    assert layer_memory_bits(50, 8 * 144, 8, 4, bias_count=8, bias_bits=8) == 664 + 64
    assert layer_bops(50, 16, 4, 8) == 50 * 16 * 32


def test_float_model_counts_32_bits():
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(32, 3, bias=False))
    got = model_metrics(m, torch.rand(1, 1, 4, 4))
    assert got["nonzero"] == 18 + 96
    assert got["bops"] == (18 * 16 + 96) * 32 * 32


def test_torch_and_qonnx_metrics_agree(tmp_path):
    for case in ("conv_stride2_pad", "conv_maxpool", "mlp", "conv_transpose"):
        build, shape, signed = CASES[case]
        model = quantized(build, shape, signed)
        x = grid_input(model, shape, signed)
        wrapper = to_qonnx(model, x[:1], tmp_path / f"{case}.onnx")
        a, b = model_metrics(model, x), qonnx_metrics(wrapper)
        for key in ("weights", "nonzero", "memory_bits", "bops"):
            assert a[key] == b[key], (case, key)


def _report_json(onnx_path, out_dir):
    import json

    from jpq2hw.cli import main

    assert main(["report", str(onnx_path), "-o", str(out_dir)]) == 0
    return json.loads((out_dir / "report.json").read_text())


def assert_same_figures(torch_metrics: dict, report: dict):
    """compress's figures (from the torch model) are the build report's (from the QONNX graph)."""
    t, est = report["totals"], report["estimate"]
    assert (t["params"], t["nonzero_params"]) == (torch_metrics["weights"], torch_metrics["nonzero"])
    assert t["weight_memory_bits"] == torch_metrics["memory_bits"] == est["totals"]["weight_memory_bits"]
    assert t["bops"] == torch_metrics["bops"] == est["totals"]["bops"]
    assert t["sparsity"] == round(torch_metrics["sparsity"], 6) == est["totals"]["sparsity"]
    f32 = est["baselines"]["dense_float32"]
    assert (f32["weight_memory_bits"], f32["bops"]) == (torch_metrics["dense_float32"]["memory_bits"],
                                                        torch_metrics["dense_float32"]["bops"])


def test_compress_and_build_report_give_the_same_numbers(tmp_path):
    for case in ("mlp", "conv_maxpool"):
        build, shape, signed = CASES[case]
        model = quantized(build, shape, signed)
        x = grid_input(model, shape, signed)
        to_qonnx(model, x[:1], tmp_path / f"{case}.onnx")
        assert_same_figures(model_metrics(model, x), _report_json(tmp_path / f"{case}.onnx", tmp_path / case))
