"""The public QONNX corpus (../shared/corpus, files copied byte for byte from real exporters' repositories) and how
each file is built: the options it needs and what the build must do with it. Tests and benchmarks/model_zoo.py
read this one table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO.parent / "shared" / "corpus"

# QKeras conversions leave the graph input as float; this declares the grid the hardware takes (hls4ml's own
# default precision, which a plain hls4ml user gets implicitly).
QKERAS_INPUT = "fixed<16,6>"


@dataclass(frozen=True)
class CorpusCase:
    file: str
    options: tuple[str, ...] = ()  # extra `jpq2hw build` options
    expect: str = "exact"  # "exact": exit 0 and bit-exact; otherwise a phrase the one-line refusal must contain
    needs_input_type: bool = False  # without --input-type: refused with a suggestion of one
    pending: str = ""  # not supported yet: why (the test is an expected failure until it is)
    vectors: int = 8  # a 128x128 frame takes ~45 s of C-simulation: the image models check one


def _qkeras(file: str, needs_input_type: bool = True) -> CorpusCase:
    return CorpusCase(file, ("--input-type", QKERAS_INPUT), needs_input_type=needs_input_type)


CASES = [
    _qkeras("qkeras_qdense_w8_b8_relu6.onnx"),
    _qkeras("qkeras_qdense_w4n_b8n_relu6.onnx"),
    _qkeras("qkeras_qdense_binary_w1_b4.onnx"),
    # input -> Relu -> Quant: without the option the Relu runs on the host and the hardware takes the Quant's codes
    _qkeras("qkeras_qdense2_w2_b4.onnx", needs_input_type=False),
    _qkeras("qkeras_qdense_legacy_domains.onnx", needs_input_type=False),
    _qkeras("qkeras_qactivation_relu_u8.onnx"),
    # the input quantizer is the whole model: without --input-type the hardware would be a wire
    _qkeras("qkeras_qactivation_bits_s2n.onnx"),
    _qkeras("qkeras_qactivation_binary.onnx"),
    _qkeras("qkeras_qconv2d_w4_b8.onnx"),
    _qkeras("qkeras_qconv2d_ternary_w2_b2.onnx"),
    _qkeras("qkeras_qconv2d_binary_w1_b4.onnx"),
    # an image model: its float input is an 8-bit image scaled to [0, 1] (the nn_resize variant quantizes it so)
    # the pixel shuffle (DepthToSpace) ends the graph as a host-tail layout op: bit-exact (measured: 126 s for one
    # 128x128 frame on an idle machine, most of it qonnx's channels-last pass)
    CorpusCase("brevitas_espcn_depthtospace_w4a4.onnx", ("--input-type", "uint8*1/255"), needs_input_type=True,
               vectors=1),
    # Relu head on the host, per-channel float scales and BatchNorm as thresholds, nearest Resize in hardware:
    # bit-exact (measured: 2.4 min for one frame, 87 s of it qonnx's channels-last pass)
    CorpusCase("brevitas_espcn_nnresize_w4a4.onnx", vectors=1),
    # channels-last back to NCHW, depthwise + pointwise convs, LeakyRelu 13/128 folded into thresholds: bit-exact
    # (measured: 2.3 min for one 256x256 frame)
    CorpusCase("brevitas_sepconv_chlast_perchannel_w8a8.onnx", vectors=1),
    # refused in one line: a transpose of a tensor with per-channel threshold scales (measured 6 s and 52 s with
    # the frame-free normalization on a loaded machine; 5 and 7 min before it)
    CorpusCase("brevitas_branched_chlast_w4a4.onnx",
               expect="node 'Transpose_3' (Transpose, after 'Conv_39' in the file): reshaping a tensor with "
                      "per-channel scales is not supported"),
    CorpusCase("brevitas_tiny_unet_chlast_w4a4.onnx",
               expect="node 'Transpose_12' (Transpose, after 'Conv_39' in the file): reshaping a tensor with "
                      "per-channel scales is not supported"),
]


def corpus_path(case: CorpusCase) -> Path:
    return CORPUS_DIR / case.file
