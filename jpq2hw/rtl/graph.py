"""Read the normalized (channels-last) QONNX graph into the small list of layers the RTL writer knows:
dense and conv layers with constant weights, each followed by its own ReLU / requantization, and max-pools.

Every tensor has the range the build's one value-range analysis gives it (jpq2hw.annotate.value_ranges), so the
same exact fixed-point type as in the HLS path: a layer's input type is its producer's output type, a requantized
output is the Quant node's type (round half to even, saturate), an output that is not requantized is the exact
range of its sum (as hls4ml's accum_t).
Anything else in the graph (add, batch norm, average pool...) is refused with the node's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.core.fixed import FixedType, Range
from jpq2hw.annotate.quant_types import first_input_quant
from jpq2hw.annotate.value_ranges import value_ranges
from jpq2hw.errors import JpqError
from jpq2hw.core.attrs import attr
from jpq2hw.ops import RTL_OPS
from jpq2hw.ops.quant import quant_spec, quantized_constant


@dataclass(frozen=True)
class Requant:
    """A QONNX Quant node on activations: y = clip(round(x / 2**e), qmin, qmax) * 2**e."""

    bits: int
    signed: bool
    narrow: bool
    scale_exp: int
    rounding: str  # ROUND (half to even) | FLOOR

    @property
    def frac(self) -> int:
        return -self.scale_exp

    def int_bounds(self) -> tuple[int, int]:
        if self.signed:
            lo, hi = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
            return (lo + 1 if self.narrow else lo), hi
        return 0, (1 << self.bits) - 1 - (1 if self.narrow else 0)

    def range(self) -> Range:
        lo, hi = self.int_bounds()
        return Range(lo, hi, self.frac)

    def fixed_type(self) -> FixedType:
        return FixedType(self.signed, self.bits, self.bits - self.frac,
                         "RND_CONV" if self.rounding == "ROUND" else "TRN", "SAT_SYM" if self.narrow else "SAT")


@dataclass
class Layer:
    name: str  # the ONNX node name
    kind: str  # dense | conv | maxpool
    in_shape: tuple  # (n,) for dense, (h, w, c) for conv/maxpool
    out_shape: tuple
    in_range: Range
    weights: np.ndarray | None = None  # dense: (n_in, n_out); conv: (kh, kw, cin, cout)
    bias: np.ndarray | None = None
    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)  # top, left, bottom, right
    post: list = field(default_factory=list)  # "relu" or a Requant, in graph order
    out_range: Range | None = None

    @property
    def in_type(self) -> FixedType:
        return self.in_range.to_type()

    @property
    def out_type(self) -> FixedType:
        return self.out_range.to_type()

    @property
    def params(self) -> int:
        return int(self.weights.size) if self.weights is not None else 0

    @property
    def nonzero(self) -> int:
        return int(np.count_nonzero(self.weights)) if self.weights is not None else 0

    @property
    def window(self) -> int:
        """Inputs of the per-pixel kernel: kh * kw * cin (conv/pool) or n_in (dense)."""
        if self.kind == "dense":
            return self.in_shape[0]
        return self.kernel[0] * self.kernel[1] * self.in_shape[2]

    @property
    def n_out(self) -> int:
        return self.out_shape[-1]


@dataclass
class Network:
    input_name: str
    input_shape: tuple  # the graph input's shape without the batch dim (NCHW for images)
    input_perm: tuple | None  # the Transpose the graph applies to its input (None: none)
    input_quant: Requant
    layers: list[Layer]
    output_shape: tuple  # the hardware output's shape without batch (h, w, c) or (n,)

    @property
    def streaming(self) -> bool:
        return any(l.kind in ("conv", "maxpool") for l in self.layers)

    @property
    def output_range(self) -> Range:
        return self.layers[-1].out_range


def _requant(model: ModelWrapper, node) -> Requant:
    spec = quant_spec(model, node)
    zp = model.get_initializer(node.input[2])
    if zp is not None and np.any(np.asarray(zp) != 0):
        raise JpqError(f"rtl: Quant node '{node.name}' has a nonzero zero point")
    scale = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64).ravel()
    if scale.size != 1 or scale[0] != 2.0**spec.scale_exp:
        raise JpqError(f"rtl: Quant node '{node.name}' needs one power-of-two scale")
    if spec.rounding not in ("ROUND", "FLOOR"):
        raise JpqError(f"rtl: Quant node '{node.name}': rounding mode {spec.rounding} is not supported (ROUND, FLOOR)")
    return Requant(spec.bits, spec.signed, spec.narrow, spec.scale_exp, spec.rounding)


def _const(model: ModelWrapper, tensor: str) -> np.ndarray | None:
    """The value of a constant tensor: an initializer, or a Quant node of an initializer."""
    init = model.get_initializer(tensor)
    if init is not None:
        return np.asarray(init, dtype=np.float64)
    node = model.find_producer(tensor)
    if node is not None and node.op_type == "Quant" and model.get_initializer(node.input[0]) is not None:
        return np.asarray(quantized_constant(model, node), dtype=np.float64)
    return None


STANDALONE = "is not after a dense or conv layer (a stand-alone activation/requantization has no RTL form yet)"


def read_network(model: ModelWrapper, source: str = "model", ranges: dict[str, Range] | None = None) -> Network:
    """The layers of the hardware graph, each tensor with its exact range from the build's one value-range
    analysis (`ranges`, jpq2hw.annotate.value_ranges; computed here when not given)."""
    ranges = value_ranges(model) if ranges is None else ranges
    in_name = model.graph.input[0].name
    in_shape = tuple(int(d) for d in model.get_tensor_shape(in_name)[1:])
    in_quant_node = first_input_quant(model, source)
    in_quant = _requant(model, in_quant_node)
    perm = None
    layers: list[Layer] = []
    cur = None  # Range of the current activation tensor
    shape = None  # its shape without batch, channels-last
    open_layer: Layer | None = None  # the compute layer whose post-ops are still being collected

    def fail(node, why):
        raise JpqError(f"rtl: node '{node.name}' ({node.op_type}) {why}")

    def known(node) -> Range:
        if node.output[0] not in ranges:
            fail(node, "has no exact value range (the value-range analysis has no rule for what feeds it)")
        return ranges[node.output[0]]

    for node in model.graph.node:
        op = node.op_type
        if op == "Quant" and model.get_initializer(node.input[0]) is not None:
            continue  # a weight/bias quantizer: read as a constant by its consumer
        if op == "Transpose" and cur is None:
            perm = tuple(int(p) for p in attr(node, "perm"))
            continue
        if op == "Quant" and cur is None:
            if node.name != in_quant_node.name:
                fail(node, "is not the input quantizer")
            cur = known(node)
            s = list(in_shape)
            if perm is not None:
                s = [([1] + s)[p] for p in perm][1:]
            shape = tuple(s)
            continue
        if cur is None:
            fail(node, "comes before the input quantizer")
        if op == "Quant":
            rq = _requant(model, node)
            if open_layer is None:
                fail(node, STANDALONE)
            open_layer.post.append(rq)
            cur = known(node)
            open_layer.out_range = cur
        elif op == "Relu":
            if open_layer is None:
                fail(node, STANDALONE)
            open_layer.post.append("relu")
            cur = known(node)
            open_layer.out_range = cur
        elif op == "Add":
            b = _const(model, node.input[1])
            if b is None:
                b = _const(model, node.input[0])
            if b is None or open_layer is None or open_layer.post or open_layer.kind == "maxpool":
                fail(node, "is not a bias right after a dense/conv layer (only that Add is supported in RTL)")
            b = b.ravel()
            if b.size != open_layer.n_out:
                fail(node, "bias does not match the layer's outputs")
            open_layer.bias = b if open_layer.bias is None else open_layer.bias + b
            cur = known(node)
            open_layer.out_range = cur
        elif op in ("MatMul", "Gemm"):
            w = _const(model, node.input[1])
            if w is None or w.ndim != 2:
                fail(node, "needs constant 2-D weights")
            if op == "Gemm" and (attr(node, "transB", 0) or attr(node, "transA", 0)):
                w = w.T if attr(node, "transB", 0) else w
            n_in = int(np.prod(shape))
            if w.shape[0] != n_in:
                fail(node, f"weights {w.shape} do not match {n_in} inputs")
            bias = _const(model, node.input[2]).ravel() if len(node.input) > 2 and node.input[2] else None
            layer = Layer(node.name, "dense", (n_in,), (w.shape[1],), cur, weights=w, bias=bias)
            cur = known(node)
            layer.out_range = cur
            layers.append(layer)
            open_layer, shape = layer, (w.shape[1],)
        elif op == "Conv":
            if node.domain != "qonnx.custom_op.channels_last" or len(shape) != 3:
                fail(node, "is not a 2-D channels-last convolution")
            w = _const(model, node.input[1])  # (cout, kh, kw, cin)
            if w is None:
                fail(node, "needs constant weights")
            if attr(node, "group", 1) != 1 or any(d != 1 for d in attr(node, "dilations", [1, 1])):
                fail(node, "has groups or dilation (not supported in RTL)")
            bias = _const(model, node.input[2]).ravel() if len(node.input) > 2 and node.input[2] else None
            kh, kw = int(w.shape[1]), int(w.shape[2])
            sh, sw = (int(s) for s in attr(node, "strides", [1, 1]))
            pt, pl, pb, pr = (int(p) for p in attr(node, "pads", [0, 0, 0, 0]))
            h, wd, c = shape
            oh, ow = (h + pt + pb - kh) // sh + 1, (wd + pl + pr - kw) // sw + 1
            wt = np.transpose(w, (1, 2, 3, 0))  # kh, kw, cin, cout
            layer = Layer(node.name, "conv", shape, (oh, ow, w.shape[0]), cur, weights=wt, bias=bias,
                          kernel=(kh, kw), stride=(sh, sw), pads=(pt, pl, pb, pr))
            cur = known(node)
            layer.out_range = cur
            layers.append(layer)
            open_layer, shape = layer, layer.out_shape
        elif op == "MaxPool":
            if len(shape) != 3 or attr(node, "ceil_mode", 0) or any(attr(node, "pads", [0, 0, 0, 0])):
                fail(node, "is not an unpadded 2-D channels-last max-pool")
            kh, kw = (int(k) for k in attr(node, "kernel_shape"))
            sh, sw = (int(s) for s in attr(node, "strides", [kh, kw]))
            h, wd, c = shape
            oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
            layer = Layer(node.name, "maxpool", shape, (oh, ow, c), cur, kernel=(kh, kw), stride=(sh, sw))
            layer.out_range = cur
            layers.append(layer)
            open_layer, shape = None, layer.out_shape
        elif op in ("Flatten", "Reshape"):
            shape = (int(np.prod(shape)),)
            open_layer = None
        elif op == "Identity":
            continue
        else:
            fail(node, f"has no RTL form yet (supported: {', '.join(dict.fromkeys(RTL_OPS.values()))})")
    if not layers:
        raise JpqError(f"{source}: no dense or conv layer to write as RTL")
    for layer in layers:
        if layer.kind == "conv" and any(layer.pads) and not (layer.in_range.lo <= 0 <= layer.in_range.hi):
            raise JpqError(f"rtl: layer '{layer.name}': zero padding outside its input's range is not supported")
    return Network(in_name, in_shape, perm, in_quant, layers, tuple(shape))


def hardware_inputs(net: Network, xs: np.ndarray) -> np.ndarray:
    """Test vectors (graph layout, float, batch first) -> integers of the input type in the hardware
    layout (channels-last), quantized as the input Quant node does (round half to even, saturate)."""
    q = net.input_quant
    x = np.ldexp(np.asarray(xs, dtype=np.float64), q.frac)
    x = np.floor(x) if q.rounding == "FLOOR" else np.round(x)
    lo, hi = q.int_bounds()
    x = np.clip(x, lo, hi).astype(np.int64)
    if net.input_perm is not None:
        x = np.transpose(x, net.input_perm)
    return x.reshape(len(xs), -1) if not net.streaming else x
