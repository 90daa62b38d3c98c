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
