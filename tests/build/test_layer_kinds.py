"""Layers ordinary PyTorch models have, built bit-exact: depthwise and grouped convolutions, average pooling
(a shift for a power-of-two window, a division folded into thresholds otherwise), global average pooling,
ReLU6-style Clip, Concat."""

import numpy as np
import pytest
from onnx import helper

from jpq2hw.build import BuildOptions, run_build
from jpq2hw.errors import JpqError
from testkit.qonnx_builder import QonnxBuilder


def _mobile_block(b: QonnxBuilder, x: str) -> str:
    x = b.quant(b.relu(b.conv(x, 8, k=3, pad=1, wbits=4, sparsity=0.3)), 4, False, -3)
    dw = b.quant(b.relu(b.conv(x, 8, k=3, pad=1, wbits=4, sparsity=0.2, group=8, bias=True)), 4, False, -3)
    grouped = b.quant(b.relu(b.conv(x, 4, k=1, pad=0, wbits=4, group=2)), 4, False, -3)
    return b.concat([dw, grouped])


@pytest.mark.slow
def test_power_of_two_pools_depthwise_grouped_concat(tmp_path):
    b = QonnxBuilder([1, 3, 8, 8], in_bits=6, in_signed=False, in_scale_exp=-4, seed=2)
    x = b.quant(b.avgpool(_mobile_block(b, b.x), 2, 2), 6, False, -4)  # 4 values: a shift
    x = b.global_avgpool(x)  # 4x4 = 16 values
    b.save(b.dense(b.flatten(x), 5, wbits=4, sparsity=0.3), tmp_path / "m.onnx")
    code, report = run_build(BuildOptions(model=tmp_path / "m.onnx", out=tmp_path / "o", quiet=True, vectors=40))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    assert report["reference"] == "onnxruntime-qcdq-float32"  # a plain fixed-point design: no thresholds
    kinds = " ".join(report["hls_types"])
    assert kinds.count("DepthwiseConv2D") == 3  # the depthwise conv and both pools
    assert "thresholds" not in kinds


@pytest.mark.slow
def test_clip_and_non_power_of_two_averages_fold_into_thresholds(tmp_path):
    b = QonnxBuilder([1, 3, 6, 6], in_bits=6, in_signed=False, in_scale_exp=-4, seed=3)
    x = b.conv(b.x, 6, k=3, pad=1, wbits=4, sparsity=0.3)
    x = b.quant(b.clip(x, 0.0, 0.75), 4, False, -4)  # ReLU6-style: the 4-bit range reaches 15/16 > 0.75
    x = b.quant(b.avgpool(x, 3, 3), 5, False, -4)  # 9 values: divided in the thresholds
    x = b.global_avgpool(x)  # 2x2
    b.save(b.dense(b.flatten(x), 5, wbits=4, sparsity=0.3), tmp_path / "m.onnx")
    code, report = run_build(BuildOptions(model=tmp_path / "m.onnx", out=tmp_path / "o", quiet=True, vectors=60))
    assert code == 0 and report["bit_exact"] and report["mismatched_vectors"] == 0
    assert sum("thresholds" in name for name in report["hls_types"]) == 2
    assert not any(h["op"] in ("Clip", "Div", "AveragePool") for h in report["host_ops"])


def test_average_pool_not_counting_its_padding_is_refused(tmp_path):
    b = QonnxBuilder([1, 2, 4, 4], in_bits=6, in_signed=False, in_scale_exp=-4)
    b.nodes.append(helper.make_node("AveragePool", [b.x], ["p"], name="border_pool", kernel_shape=[3, 3],
                                    strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=0))
    b.shapes["p"] = [1, 2, 4, 4]
    b.save(b.dense(b.flatten("p"), 3, wbits=4), tmp_path / "m.onnx")
    with pytest.raises(JpqError, match="border_pool.*count_include_pad"):
        run_build(BuildOptions(model=tmp_path / "m.onnx", out=tmp_path / "o", quiet=True))
    assert not (tmp_path / "o").exists()
