"""Seeded random quantized QONNX models, and hand-made edge cases, for the bit-accuracy matrix.

`random_case(seed)` draws one model from the space users hit: 3x3/2x2/1x1 convolutions with stride and
padding, dense layers, ReLU, max-pool, residual Add, BatchNorm with dyadic parameters, Flatten; weights
2..8 bits, activations 2..8 bits signed or unsigned (narrow or not), sparsity 0..99 %, io_parallel or
io_stream. The same seed always gives the same model (numpy's PCG64, no global state).

`EDGE_CASES` are the models that break naive fixed point: saturation at both ends, round-half-to-even ties,
an all-zero layer, a layer pruned to a single weight, accumulators wider than float32's 24-bit mantissa
(the reference must switch to float64), very wide fan-in.

Every case is a `Case`: the model, the io type to build it with, a one-line description (the knobs drawn)
and, where the case is about the reference, the reference kind the build must pick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from testkit.qonnx_builder import QonnxBuilder

IO_TYPES = ("parallel", "stream")
SPARSITIES = (0.0, 0.0, 0.25, 0.5, 0.8, 0.95, 0.99)


@dataclass
class Case:
    name: str
    io: str  # "parallel" | "stream" (BuildOptions.io)
    model: ModelWrapper
    description: str
    expect_reference: str | None = None  # e.g. "qonnx-float64": the build must pick this reference
    knobs: dict = field(default_factory=dict)

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.onnx"
        import onnx

        onnx.save(self.model.model, str(path))
        return path


class _Draw:
    """The knobs drawn so far, for the case description."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng([0x6A70, seed])
        self.log: list[str] = []

    def int(self, lo, hi) -> int:  # inclusive
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def coin(self, p=0.5) -> bool:
        return bool(self.rng.random() < p)


def _act(b: QonnxBuilder, d: _Draw, x: str, relu: bool | None = None) -> str:
    """An activation quantizer (2..8 bits, signed or unsigned, narrow or not) with or without a ReLU."""
    bits = d.int(2, 8)
    signed = d.coin()
    narrow = signed and d.coin(0.3)
    scale_exp = d.int(-6, 0)
    relu = d.coin(0.6) if relu is None else relu
    if signed:
        x = b.quant(x, bits, True, scale_exp, narrow=narrow)
        if relu:
            x = b.relu(x)
    else:
        if relu:
            x = b.relu(x)
        x = b.quant(x, bits, False, scale_exp)
    d.log.append(f"a{bits}{'s' if signed else 'u'}{'n' if narrow else ''}2^{scale_exp}{'+relu' if relu else ''}")
    return x


def random_case(seed: int, io: str | None = None) -> Case:
    d = _Draw(seed)
    drawn_io = d.choice(IO_TYPES)  # always drawn, so that forcing io does not change the model
    io = io or drawn_io
    kind = d.choice(("conv", "conv", "mlp"))
    in_bits, in_signed = d.int(2, 8), d.coin()
    in_exp = d.int(-5, 0)
    d.log.append(f"in{in_bits}{'s' if in_signed else 'u'}2^{in_exp}")
    if kind == "conv":
        cin, h = d.int(1, 3), d.int(4, 8)
        b = QonnxBuilder([1, cin, h, h], in_bits=in_bits, in_signed=in_signed, in_scale_exp=in_exp,
                         seed=seed, name=f"rand{seed}")
        x = b.x
        d.log.append(f"{cin}x{h}x{h}")
        for _ in range(d.int(1, 2)):
            h = b.shapes[x][2]
            k = d.choice([kk for kk in (1, 2, 3) if kk <= h])
            stride = d.choice((1, 1, 2)) if h - k >= 2 else 1
            pad = d.int(0, k // 2)
            cout, wbits, sp = d.int(1, 6), d.int(2, 8), d.choice(SPARSITIES)
            bias = d.coin(0.3)
            x = b.conv(x, cout, k=k, stride=stride, pad=pad, wbits=wbits, w_scale_exp=d.int(-4, 0), sparsity=sp,
                       bias=bias)
            d.log.append(f"conv{k}x{k}/s{stride}p{pad}c{cout}w{wbits}sp{sp:g}{'+b' if bias else ''}")
            if d.coin(0.3):
                x = b.batchnorm(x, scale_bits=d.int(1, 3), scale_exp=d.int(-3, 0), bias_exp=d.int(-4, -1))
                d.log.append("bn")
            x = _act(b, d, x)
            if d.coin(0.3):  # residual block: same-shape 3x3 conv, quantized, added back
                c = b.shapes[x][1]
                y = b.conv(x, c, k=3, stride=1, pad=1, wbits=d.int(2, 8), w_scale_exp=d.int(-4, -1),
                           sparsity=d.choice(SPARSITIES))
                y = _act(b, d, y, relu=False)
                x = b.add(x, y)
                x = _act(b, d, x)
                d.log.append("res")
            if b.shapes[x][2] >= 2 and d.coin(0.4):
                x = b.maxpool(x, 2, 2)
                d.log.append("pool")
        x = b.flatten(x)
    else:
        nin = d.int(2, 24)
        b = QonnxBuilder([1, nin], in_bits=in_bits, in_signed=in_signed, in_scale_exp=in_exp, seed=seed,
                         name=f"rand{seed}")
        x = b.x
        d.log.append(f"{nin}")
    for i in range(d.int(1, 2)):
        nout, wbits, sp = d.int(1, 10), d.int(2, 8), d.choice(SPARSITIES)
        bias = d.coin(0.3)
        x = b.dense(x, nout, wbits=wbits, w_scale_exp=d.int(-4, 0), sparsity=sp, bias=bias)
        d.log.append(f"dense{nout}w{wbits}sp{sp:g}{'+b' if bias else ''}")
        if kind == "mlp" and i == 0 and d.coin(0.25):
            # BatchNorm on a (N, C) tensor: qonnx folds or hls4ml maps it, either way exact
            x = b.batchnorm(x, scale_bits=d.int(1, 3), scale_exp=d.int(-3, 0), bias_exp=d.int(-4, -1))
            d.log.append("bn")
        x = _act(b, d, x)
    return Case(f"rand{seed}_{io}", io, b.build(x), f"{kind}: " + " ".join(d.log), knobs={"seed": seed})


# --- edge cases ----------------------------------------------------------------------------------------


def saturation_case(io: str = "parallel") -> Case:
    """Accumulators far outside narrow output quantizers: every corner vector saturates high and low, signed
    (narrow and not) and unsigned, and a ReLU'd unsigned 2-bit quantizer clips at 0 and at its top."""
    b = QonnxBuilder([1, 6], in_bits=6, in_signed=True, in_scale_exp=-2, seed=11, name="saturation")
    x = b.dense(b.x, 8, wbits=6, w_scale_exp=-1, sparsity=0.0)
    x = b.quant(x, 3, True, -1, narrow=True)  # [-1.5, 1.5]: saturates both ways
    x = b.dense(x, 6, wbits=5, w_scale_exp=0)
    x = b.relu(x)
    x = b.quant(x, 2, False, -1)  # [0, 1.5]
    x = b.dense(x, 4, wbits=4, w_scale_exp=0, bias=True, bias_scale_exp=0)
    x = b.quant(x, 3, True, 0)  # [-4, 3], not narrow
    return Case(f"saturation_{io}", io, b.build(x), "saturation at both ends (signed narrow, unsigned, signed)")


def ties_case(io: str = "parallel") -> Case:
    """Round half to even: the output quantizer's step is exactly twice the accumulator's grid, so about
    half of all outputs land on a .5 step; weights are odd so ties hit both even and odd neighbours."""
    b = QonnxBuilder([1, 8], in_bits=4, in_signed=True, in_scale_exp=0, seed=12, name="ties")
    rng = np.random.default_rng(12)
    w = rng.choice([-3, -1, 1, 3], size=(8, 6)) * 2.0**-1  # accumulator grid 2^-1
    x = b.dense(b.x, 6, wbits=3, w_scale_exp=-1, weights=w)
    x = b.quant(x, 8, True, 0)  # step 1: values k + 0.5 are ties
    w2 = rng.choice([-1, 1], size=(6, 4)) * 2.0**-2  # grid 2^-2 after a step-1 input
    x = b.dense(x, 4, wbits=2, w_scale_exp=-2, weights=w2)
    x = b.quant(x, 6, False, -1)  # step 2^-1: .25 multiples are ties; negatives clip to 0
    return Case(f"ties_{io}", io, b.build(x), "round-half-to-even ties in two quantizers")


def zero_and_single_case(io: str = "parallel") -> Case:
    """A conv pruned to a single weight, then a dense layer whose weights are all zero (its output is the
    bias alone), then a normal dense layer on that constant."""
    b = QonnxBuilder([1, 2, 5, 5], in_bits=5, in_signed=False, in_scale_exp=-3, seed=13, name="zero_single")
    w = np.zeros((3, 2, 3, 3))
    w[1, 0, 2, 1] = -3 * 2.0**-2  # the only nonzero weight
    x = b.conv(b.x, 3, k=3, stride=2, pad=1, wbits=4, w_scale_exp=-2, weights=w)
    x = b.quant(x, 6, True, -4)
    x = b.flatten(x)
    x = b.dense(x, 5, wbits=4, w_scale_exp=-2, weights=np.zeros((b.shapes[x][1], 5)), bias=True,
                bias_scale_exp=-2)
    x = b.quant(x, 4, True, -1)
    x = b.dense(x, 3, wbits=3, w_scale_exp=-1)
    x = b.quant(x, 8, True, -3)
    return Case(f"zero_single_{io}", io, b.build(x), "conv pruned to one weight, all-zero dense layer")


def single_weight_dense_case(io: str = "parallel") -> Case:
    """A dense layer with exactly one nonzero weight feeding a 2-bit quantizer."""
    b = QonnxBuilder([1, 10], in_bits=8, in_signed=True, in_scale_exp=-4, seed=14, name="single_dense")
    w = np.zeros((10, 4))
    w[7, 2] = 2.0**-3 * 5
    x = b.dense(b.x, 4, wbits=4, w_scale_exp=-3, weights=w)
    x = b.quant(x, 2, True, -3)
    return Case(f"single_dense_{io}", io, b.build(x), "dense with a single nonzero weight")


def wide_accumulator_case(io: str = "parallel", fan_in: int = 512) -> Case:
    """Very wide fan-in with 8-bit inputs and weights and a fine-grained bias: the accumulator needs more
    than float32's 24-bit mantissa (8 + 8 + 9 bits of fan-in + bias fraction), so the reference must run in
    float64. The output quantizer keeps 8 bits with a fine step, so an accumulator rounded in float32 would
    show up."""
    b = QonnxBuilder([1, fan_in], in_bits=8, in_signed=True, in_scale_exp=-7, seed=15, name="wide_accum")
    x = b.dense(b.x, 3, wbits=8, w_scale_exp=-7, sparsity=0.0, bias=True, bias_scale_exp=-20,
                bias_values=np.array([1, -3, 5]) * 2.0**-20 + np.array([0.5, -0.25, 0.0]))
    # scale 2^-20 step over a range of about +-2^3: saturates for most vectors, but values near zero
    # (the zero vector, with only the fine bias) are resolved at 2^-20
    x = b.quant(x, 8, True, -20)
    return Case(f"wide_accum_{io}", io, b.build(x), f"fan-in {fan_in}, 8x8 bits, bias at 2^-20: > 24-bit accumulator",
                expect_reference="qonnx-float64")


def wide_accumulator_16bit_case(io: str = "parallel") -> Case:
    """A 16-bit activation quantizer (QCDQ cannot lower it: the reference must use the float64 path) after a
    wide accumulator; its step is fine enough that every accumulator value is kept exactly."""
    b = QonnxBuilder([1, 64], in_bits=8, in_signed=True, in_scale_exp=-7, seed=16, name="wide_q16")
    x = b.dense(b.x, 4, wbits=8, w_scale_exp=-7, sparsity=0.0, bias=True, bias_scale_exp=-14)
    x = b.quant(x, 16, True, -8)
    x = b.dense(x, 2, wbits=8, w_scale_exp=-7)
    x = b.quant(x, 8, True, -2)
    return Case(f"wide_q16_{io}", io, b.build(x), "16-bit activation quantizer (float64 reference)",
                expect_reference="qonnx-float64")


def wide_fanin_conv_case(io: str = "stream") -> Case:
    """Very wide fan-in in a convolution: 3x3 kernel over 32 input channels (288 inputs per output)."""
    b = QonnxBuilder([1, 32, 3, 3], in_bits=8, in_signed=False, in_scale_exp=-8, seed=17, name="wide_fanin_conv")
    x = b.conv(b.x, 2, k=3, stride=1, pad=0, wbits=8, w_scale_exp=-7, sparsity=0.1)
    x = b.quant(x, 8, True, -6)
    x = b.flatten(x)
    x = b.dense(x, 2, wbits=8, w_scale_exp=-7)
    x = b.quant(x, 8, True, -4)
    return Case(f"wide_fanin_conv_{io}", io, b.build(x), "conv 3x3 over 32 channels (fan-in 288)")


def narrow_round_case(io: str = "parallel") -> Case:
    """A 1-bit-wide exact accumulator (ufixed<1,-1>: values {0, 0.25}) rounded by a quantizer with step 1:
    the rounding reads a bit below the type's LSB... beyond its MSB, and hls4ml's ap_types assert
    ("Attempting to read bit beyond MSB") aborts the interpreter in the C-simulation. Known failure (reported)."""
    b = QonnxBuilder([1, 3], in_bits=4, in_signed=True, in_scale_exp=-2, seed=18, name="narrow_round")
    x = b.relu(b.quant(b.x, 2, True, -2))  # {0, 0.25}: ufixed<1,-1>
    x = b.dense(x, 2, wbits=2, w_scale_exp=0, weights=np.array([[1.0, 0], [0, 0], [0, 0]]))
    x = b.quant(x, 4, False, 0)
    return Case(f"narrow_round_{io}", io, b.build(x), "1-bit accumulator rounded by 2 bits (ap_types assert)")


EDGE_CASES = {
    "saturation": saturation_case,
    "ties": ties_case,
    "zero_single": zero_and_single_case,
    "single_dense": single_weight_dense_case,
    "wide_accum": wide_accumulator_case,
    "wide_q16": wide_accumulator_16bit_case,
    "wide_fanin_conv": wide_fanin_conv_case,
    "narrow_round": narrow_round_case,
}
