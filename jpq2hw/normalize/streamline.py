"""Exact requantization for any scale: rewrite the hardware graph into integer arithmetic with thresholds.

Brevitas's default quantizers use float scales. Between two quantizers the graph applies only affine maps
per channel (input scale x weight scale, bias, BatchNorm, Mul/Div/Add by constants), so the next Quant's
integer code is a monotonic step function of the integer accumulator. This pass (FINN calls it
streamlining) keeps every hardware tensor an integer:

- the graph input becomes the input quantizer's integer codes (the host quantizes; a "host head"),
- weights become their integer codes (the scale moves into the affine map),
- biases, BatchNorm and constant Mul/Div/Add/Sub are folded into the affine map and disappear,
- each activation Quant becomes a Jpq2hwThreshold node: code = lo + #{k : h >= T_k} (or h <= T_k for a
  channel whose factor is negative), with the integer thresholds T_k solved exactly in rational arithmetic
  from the float32 constants (round half to even decided exactly at ties),
- where the step from one tensor to the next quantizer is a power of two with no offset, a plain Quant
  node stays (cheaper than thresholds),
- the output's affine map (real = alpha_c * h + beta_c) is applied on the host (a "host tail").

The pass refuses, naming the node, what it cannot make integer (e.g. adding two tensors whose scales are
not equal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.intquant import int_quant, max_int, min_int

from jpq2hw.errors import JpqError
from jpq2hw.frontend.attrs import attr
from jpq2hw.frontend.node_names import node_label

THRESHOLD_OP = "Jpq2hwThreshold"
THRESHOLD_DOMAIN = "jpq2hw"


@dataclass
class Affine:
    """real value = alpha[c] * hardware value + beta[c] (c along the channel axis; length 1 = per tensor),
    then, if relu is pending: for slope 0 (ReLU, ReLU6, hardtanh) clamped to [lower, upper]; for a LeakyRelu's
    slope > 0, y for y >= 0 and slope * y below."""

    alpha: list[Fraction]
    beta: list[Fraction]
    relu: bool = False
    slope: Fraction = Fraction(0)
    lower: Fraction = Fraction(0)
    upper: Fraction | None = None

    @property
    def per_tensor(self) -> bool:
        return len(set(self.alpha)) == 1 and len(set(self.beta)) == 1

    def scalar(self) -> "Affine":
        return Affine([self.alpha[0]], [self.beta[0]], self.relu, self.slope, self.lower, self.upper)


@dataclass
class HostIO:
    """What runs on the host around the integer hardware."""

    input_scale: float  # hardware input = clip(round(x / input_scale)): the input Quant's codes
    output_alpha: np.ndarray  # real output = alpha * hw + beta along the last axis (after relu if set)
    output_beta: np.ndarray
    output_relu: bool
    host_ops: list[dict] = field(default_factory=list)  # [{name, op, where}] for the report

    def to_real(self, hw: np.ndarray) -> np.ndarray:
        y = hw * self.output_alpha + self.output_beta
        return np.maximum(y, 0) if self.output_relu else y

    def reference_codes(self, y_ref: np.ndarray, hw: np.ndarray, atol: float = 1e-6) -> np.ndarray:
        """The hardware values the reference outputs stand for, to compare with `hw` exactly. The hardware part
        is integer; the reference's float64 folds the scales op by op and may differ from alpha*h+beta in the
        last bit, so it is mapped back to code units. A value more than `atol` codes from an integer cannot be
        any hardware output and stays fractional: a mismatch."""
        a, b = self.output_alpha, self.output_beta
        with np.errstate(divide="ignore", invalid="ignore"):
            want = (y_ref - b) / a
        snapped = np.where(np.abs(want - np.rint(want)) <= atol, np.rint(want), want)
        # a zero factor makes the channel constant: any code is right if the constant is
        snapped = np.where(a == 0, np.where(np.isclose(y_ref, b, rtol=0, atol=1e-12), hw, np.nan), snapped)
        if self.output_relu:  # a clipped output says only that alpha*h+beta <= 0
            snapped = np.where((y_ref == 0) & (hw * a + b <= 0), hw, snapped)
        return snapped


def is_power_of_two(x: Fraction) -> bool:
    if x <= 0:
        return False
    n, d = x.numerator, x.denominator
    return (n & (n - 1)) == 0 and (d & (d - 1)) == 0


def needs_streamline(model: ModelWrapper) -> bool:
    """True when some Quant's scale is not a single power of two (the plain fixed-point path covers the rest)."""
    if model.get_nodes_by_op_type("BipolarQuant"):
        return True  # +1/-1 values: integer codes with thresholds
    for node in model.get_nodes_by_op_type("Quant"):
        bits = model.get_initializer(node.input[3])
        if bits is not None and int(np.asarray(bits).ravel()[0]) == 1:
            return True  # a 1-bit signed Quant is bipolar too (qonnx's definition)
        scale = model.get_initializer(node.input[1])
        if scale is None:
            continue
        s = np.asarray(scale, dtype=np.float64).ravel()
        if np.any(s <= 0) or len(set(s.tolist())) > 1 or np.frexp(s[0])[0] != 0.5:
            return True
    for node in model.get_nodes_by_op_type("LeakyRelu"):  # a power-of-two slope is a shift in fixed point
        if not is_power_of_two(_frac(attr(node, "alpha", 0.01))):
            return True  # any other slope folds into the next quantizer's thresholds
    for node in model.graph.node:  # a float rescale between quantizers (e.g. x / 255 after a UINT8 input)
        if node.op_type in ("Mul", "Div"):
            k = next((model.get_initializer(i) for i in node.input if model.get_initializer(i) is not None), None)
            k = None if k is None else np.asarray(k, dtype=np.float64).ravel()
            if k is not None and (node.op_type == "Div" or np.any(k <= 0) or len(set(k.tolist())) > 1
                                  or np.frexp(k[0])[0] != 0.5):
                return True  # hls4ml has no Div; streamlining folds any constant divisor exactly
        if node.op_type == "Clip":
            return True  # a clamp is folded into the next quantizer's thresholds
    return False


def _frac(x) -> Fraction:
    return Fraction(float(x))  # exact: every finite float is a dyadic rational


def _channel_vector(values: np.ndarray, node, n_chan: int, source: str, model=None) -> list[Fraction]:
    """A constant that varies at most along the last (channel) axis, as one Fraction per channel."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 1:
        return [_frac(v.ravel()[0])] * n_chan
    flat = v.reshape(-1, v.shape[-1]) if v.ndim > 1 else v.reshape(1, -1)
    if flat.shape[-1] != n_chan or np.any(flat != flat[0]):
        raise JpqError(f"{source}: {node_label(node, model)}: constant of shape {list(v.shape)} is not per-channel")
    return [_frac(x) for x in flat[0]]


class _Streamliner:
    def __init__(self, model: ModelWrapper, source: str):
        self.m = model
        self.source = source
        self.state: dict[str, Affine | None] = {}
        self.weight_codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # Quant output -> (codes, scale)
        self.alias: dict[str, str] = {}  # removed node's output -> the tensor that stands for it
        self.removed = []
        self.host_ops: list[dict] = []
        self.input_scale: float | None = None

    def refuse(self, node, why: str):
        raise JpqError(f"{self.source}: {node_label(node, self.m)}: {why}")

    def n_chan(self, tensor: str) -> int:
        shape = self.m.get_tensor_shape(tensor)
        return int(shape[-1]) if shape else 1

    def inp(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def drop(self, node, into: str) -> None:
        """Remove `node`; its output is now represented by tensor `into`."""
        self.alias[node.output[0]] = into
        self.removed.append(node)

    # --- the walk -----------------------------------------------------------------------------------
    def run(self) -> HostIO:
        graph_in = self.m.graph.input[0].name
        self.state[graph_in] = None  # float, not yet quantized
        # Handlers look states up by the original tensor names (a folded node's output keeps its own affine
        # map); consumers are rewired to the tensors that stand for removed nodes only at the end.
        for node in list(self.m.graph.node):
            handler = getattr(self, f"on_{node.op_type}", None)
            if handler is None:
                self.refuse(node, "no integer form for this op in a model with float scales")
            handler(node)
        gone = []
        for node in self.removed:
            if not any(node is g for g in gone):  # a folded constant's Quant may be named twice
                self.m.graph.node.remove(node)
                gone.append(node)
        for node in self.m.graph.node:
            for i, name in enumerate(node.input):
                if name:
                    node.input[i] = self.inp(name)
        out = self.m.graph.output[0]
        real_out = self.inp(out.name)
        aff = self.state[out.name]  # the output's own affine map (its producer may have been folded away)
        if real_out != out.name:
            self._rename_output(out.name, real_out)
        if aff is None:
            raise JpqError(f"{self.source}: the output is not quantized anywhere")
        if aff.relu and (aff.lower != 0 or aff.upper is not None):
            raise JpqError(f"{self.source}: the output is clipped (Clip) but not quantized after it; add an "
                           f"output quantizer")
        if self.input_scale is None:
            raise JpqError(f"{self.source}: no input quantizer found")
        n = self.n_chan(self.m.graph.output[0].name)
        alpha = np.array([float(a) for a in (aff.alpha * n if len(aff.alpha) == 1 else aff.alpha)])
        beta = np.array([float(b) for b in (aff.beta * n if len(aff.beta) == 1 else aff.beta)])
        if np.any(alpha != 1) or np.any(beta != 0) or aff.relu:
            self.host_ops.append({"name": "output affine", "op": "Mul/Add" + ("/Relu" if aff.relu else ""),
                                  "where": "host (float64, after the hardware output)"})
        return HostIO(self.input_scale, alpha, beta, aff.relu, self.host_ops)

    def _rename_output(self, old: str, new: str) -> None:
        vi = self.m.graph.output[0]
        shape = self.m.get_tensor_shape(new)
        for dup in [v for v in self.m.graph.value_info if v.name == new]:
            self.m.graph.value_info.remove(dup)  # now declared as the graph output
        vi.name = new
        if shape is not None:
            del vi.type.tensor_type.shape.dim[:]
            for d in shape:
                vi.type.tensor_type.shape.dim.add().dim_value = int(d)

    # --- quantizers -----------------------------------------------------------------------------------
    def on_Quant(self, node):
        m = self.m
        x = node.input[0]
        scale = np.asarray(m.get_initializer(node.input[1]), dtype=np.float64)
        zeropt = np.asarray(m.get_initializer(node.input[2]), dtype=np.float64)
        bits = int(np.asarray(m.get_initializer(node.input[3])).ravel()[0])
        signed, narrow = int(attr(node, "signed", 1)), int(attr(node, "narrow", 0))
        rounding = attr(node, "rounding_mode", "ROUND")
        if np.any(zeropt != 0):
            self.refuse(node, "nonzero zero point")
        const = m.get_initializer(x)
        if const is not None:  # a weight quantizer: keep the integer codes, move the scale into the affine map
            codes = int_quant(np.asarray(const, np.float64), scale, zeropt, np.float64(bits), signed, narrow,
                              rounding) / scale
            m.set_initializer(x, codes.astype(np.float32))
            self._set_param(node, 1, np.ones_like(scale, dtype=np.float32))
            if bits == 1 and signed:  # bipolar weights (qonnx's 1-bit signed Quant): -1/+1 need a 2-bit narrow type
                self._make_pm1(node)
            self.weight_codes[node.output[0]] = (codes, scale)
            self.state[node.output[0]] = None
            return
        src = self.state.get(x)
        if src is None:  # the input quantizer: the host sends its integer codes
            if scale.size != 1:
                self.refuse(node, "per-channel scales on the input quantizer are not supported")
            if self.input_scale is not None:
                self.refuse(node, "a second quantizer on float data: only the input may be quantized on the host")
            self.input_scale = float(scale.ravel()[0])
            self._set_param(node, 1, np.ones_like(scale, dtype=np.float32))
            if bits == 1 and signed:  # bipolar codes -1/+1 need a 2-bit narrow type in hardware
                self._make_pm1(node)
            self.state[node.output[0]] = Affine([_frac(self.input_scale)], [Fraction(0)])
            self.host_ops.append({"name": node.name, "op": "Quant", "where": "host (input to integer codes)"})
            return
        n = self.n_chan(x)
        s = _channel_vector(scale, node, n, self.source, self.m)
        lo, hi = int(min_int(signed, narrow, bits)), int(max_int(signed, narrow, bits))
        # power-of-two step with no offset: a plain (integer-valued) Quant node does it; not before an add or a
        # concatenation, whose inputs must be in the same units (thresholds give the codes of the real scale)
        if bits > 1 and src.per_tensor and not src.relu and src.beta[0] == 0 and len(set(s)) == 1 \
                and not self._feeds_merge(node.output[0]):
            ratio = s[0] / src.alpha[0]
            if is_power_of_two(ratio) and ratio >= 1:
                self._set_param(node, 1, np.array(float(ratio), dtype=np.float32))
                self.state[node.output[0]] = Affine([src.alpha[0]], [Fraction(0)])
                return
        bipolar = bits == 1 and signed
        if bipolar:
            lo, hi = -1, 1
        thresholds, signs = self._thresholds(src.scalar() if src.per_tensor else src, s, lo, hi, rounding, n,
                                             bipolar=bipolar)
        self._insert_thresholds(node, x, thresholds, signs, lo, hi, step=2 if bipolar else 1)
        self.state[node.output[0]] = Affine(s, [Fraction(0)] * n)

    def _set_param(self, node, k: int, value: np.ndarray) -> None:
        """Give input k of `node` a new constant of its own (exporters share parameter tensors between nodes)."""
        node.input[k] = self._new_const(f"{node.name}_param{k}_int", value)

    def _make_pm1(self, node) -> None:
        """A 1-bit signed Quant passes -1/+1 (qonnx's bipolar case); in hardware that is a 2-bit narrow type."""
        self._set_param(node, 3, np.array(2.0, dtype=np.float32))
        for a in node.attribute:
            if a.name == "narrow":
                a.i = 1

    def _is_constant(self, name: str) -> bool:
        producer = self.m.find_producer(name)
        return self.m.get_initializer(name) is not None or (
            producer is not None and producer.op_type == "Quant" and self.m.get_initializer(producer.input[0]) is not None)

    def _feeds_merge(self, tensor: str) -> bool:
        """Whether `tensor` reaches an Add/Sub of two tensors or a Concat through layout and pooling ops."""
        frontier, seen = [tensor], set()
        while frontier:
            t = frontier.pop()
            for c in self.m.find_consumers(t) or []:
                if c.op_type == "Concat" or (c.op_type in ("Add", "Sub")
                                             and not any(self._is_constant(i) for i in c.input)):
                    return True
                if c.op_type in ("MaxPool", "GlobalMaxPool", "Reshape", "Flatten", "Transpose", "Identity") \
                        and c.output[0] not in seen:
                    seen.add(c.output[0])
                    frontier.append(c.output[0])
        return False

    def _insert_thresholds(self, node, x, thresholds, signs, lo, hi, step):
        n = len(signs)
        thr = helper.make_tensor("thresholds", 11, list(thresholds.shape), thresholds.ravel().tolist())
        sg = helper.make_tensor("signs", 6, [n], signs.tolist())
        new = helper.make_node(THRESHOLD_OP, [x], [node.output[0]], name=node.name + "_thresholds",
                               domain=THRESHOLD_DOMAIN, thresholds=thr, signs=sg, out_lo=lo, out_hi=hi,
                               out_step=step)
        new.metadata_props.extend(node.metadata_props)  # the user's quantizer, by its name in the file
        idx = list(self.m.graph.node).index(node)
        self.m.graph.node.insert(idx, new)
        self.removed.append(node)

    def on_BipolarQuant(self, node):
        """sign(x) * scale, with sign(0) = +1 (qonnx's definition): codes -1/+1."""
        m = self.m
        x = node.input[0]
        if m.get_initializer(node.input[1]) is None:
            self.refuse(node, "its scale must be a constant")
        scale = np.asarray(m.get_initializer(node.input[1]), dtype=np.float64)
        const = m.get_initializer(x)
        if const is not None:  # bipolar weights: integer codes +-1
            codes = np.where(np.asarray(const, np.float64) >= 0, 1.0, -1.0)
            m.set_initializer(x, codes.astype(np.float32))
            self._replace_with_pm1_quant(node)
            self.weight_codes[node.output[0]] = (codes, scale)
            self.state[node.output[0]] = None
            return
        src = self.state.get(x)
        if src is None:  # the input quantizer: the host sends -1/+1 codes
            if self.input_scale is not None or scale.size != 1:
                self.refuse(node, "only the input may be quantized on the host, with one scale")
            self.input_scale = float(scale.ravel()[0])
            self._replace_with_pm1_quant(node)
            self.state[node.output[0]] = Affine([_frac(self.input_scale)], [Fraction(0)])
            self.host_ops.append({"name": node.name, "op": "BipolarQuant", "where": "host (input to -1/+1 codes)"})
            return
        n = self.n_chan(x)
        s = _channel_vector(scale, node, n, self.source, self.m)
        thresholds, signs = self._thresholds(src.scalar() if src.per_tensor else src, s, -1, 1, "ROUND", n,
                                             bipolar=True)
        self._insert_thresholds(node, x, thresholds, signs, -1, 1, step=2)
        self.state[node.output[0]] = Affine(s, [Fraction(0)] * n)

    def _replace_with_pm1_quant(self, node) -> None:
        """Replace a BipolarQuant by a 2-bit narrow integer Quant (scale 1) that passes the -1/+1 codes: the
        type hls4ml needs for them."""
        params = [self._new_const(node.name + suffix, v) for suffix, v in (("_one", 1.0), ("_zero", 0.0), ("_bits", 2.0))]
        new = helper.make_node("Quant", [node.input[0], *params], [node.output[0]], name=node.name + "_codes",
                               domain="qonnx.custom_op.general", signed=1, narrow=1, rounding_mode="ROUND")
        new.metadata_props.extend(node.metadata_props)
        self.m.graph.node.insert(list(self.m.graph.node).index(node), new)
        self.removed.append(node)

    def _new_const(self, name: str, value: float) -> str:
        self.m.set_initializer(name, np.array(value, dtype=np.float32))
        return name

    def _thresholds(self, src: Affine, s: list[Fraction], lo: int, hi: int, rounding: str, n: int,
                    bipolar: bool = False):
        """Integer thresholds per channel and level: code >= k  <=>  sign * h >= sign * T[c, k - lo - 1].
        Bipolar: one level, +1 when the value is >= 0."""
        levels = 1 if bipolar else hi - lo
        thr = np.zeros((n, levels), dtype=np.float64)
        signs = np.ones(n, dtype=np.int64)
        for c in range(n):
            a = src.alpha[c if len(src.alpha) > 1 else 0]
            b = src.beta[c if len(src.beta) > 1 else 0]
            for j, k in enumerate([hi] if bipolar else range(lo + 1, hi + 1)):
                if bipolar:
                    t, eq_ok = Fraction(0), True
                elif rounding.upper() == "ROUND":
                    t, eq_ok = (k - Fraction(1, 2)) * s[c], k % 2 == 0  # round half to even
                elif rounding.upper() == "FLOOR":
                    t, eq_ok = Fraction(k) * s[c], True
                else:
                    raise JpqError(f"{self.source}: rounding mode {rounding} is not supported")
                if src.relu and src.slope == 0:  # a pending clamp to [lower, upper]: levels the bounds decide
                    def reached(v):
                        return v >= t if eq_ok else v > t
                    if reached(src.lower):
                        thr[c, j] = -math.inf
                        continue
                    if src.upper is not None and not reached(src.upper):
                        thr[c, j] = math.inf
                        continue
                elif src.relu and (t < 0 or (t == 0 and eq_ok)):  # leaky, levels at or below 0
                    t = t / src.slope  # slope * y >= t  <=>  y >= t / slope (slope > 0)
                # condition: a * h + b >= t (or > t when a tie must round down)
                if a > 0:
                    r = (t - b) / a
                    thr[c, j] = math.ceil(r) if eq_ok or r.denominator != 1 else r + 1
                elif a < 0:
                    signs[c] = -1
                    r = (t - b) / a  # h <= r
                    u = math.floor(r) if eq_ok or r.denominator != 1 else r - 1
                    thr[c, j] = -u  # stored for sign * h >= sign * u
                else:
                    reached = b > t or (b == t and eq_ok)
                    thr[c, j] = -math.inf if reached else math.inf
        return thr, signs

    # --- linear layers --------------------------------------------------------------------------------
    def _linear(self, node, out_channels_axis_scale):
        x, w = node.input[0], node.input[1]
        src = self.state.get(x)
        if w not in self.weight_codes:
            self.refuse(node, "its weights are not a quantized constant")
        if src is None or src.relu or any(b != 0 for b in src.beta):
            self.refuse(node, "its input has an offset that cannot be factored out")
        n = self.n_chan(node.output[0])
        if not src.per_tensor and not (self._depthwise(node) and len(src.alpha) == n):
            self.refuse(node, "its input has one scale per channel, which only a depthwise conv can take (each of "
                              "its outputs reads one input channel); give the quantizer before it one scale")
        codes, wscale = self.weight_codes[w]
        sw = out_channels_axis_scale(wscale, n)
        alpha = [src.alpha[0 if src.per_tensor else c] * v for c, v in enumerate(sw)]  # depthwise: channel c
        beta = [Fraction(0)] * n
        if len(node.input) > 2 and node.input[2]:  # a float bias: fold it into the affine map
            b = self._constant(node.input[2])
            if b is not None and self.m.get_initializer(node.input[2]) is None:  # a quantized bias
                self.removed.append(self.m.find_producer(node.input[2]))
            if b is None:
                self.refuse(node, "its bias is not a constant")
            beta = [_frac(v) for v in np.asarray(b, np.float64).ravel()]
            del node.input[2]
        self.state[node.output[0]] = Affine(alpha, beta)

    def _depthwise(self, node) -> bool:
        """A Conv whose output channel c reads input channel c only (group = channels in = channels out)."""
        return node.op_type == "Conv" and int(attr(node, "group", 1)) == self.n_chan(node.input[0]) \
            == self.n_chan(node.output[0])

    def on_MatMul(self, node):
        def scale_per_out(wscale, n):
            v = np.asarray(wscale, np.float64)
            if v.size == 1:
                return [_frac(v.ravel()[0])] * n
            if v.shape[-1] != n or v.size != n:
                self.refuse(node, f"weight scale of shape {list(v.shape)} is not per output channel")
            return [_frac(x) for x in v.ravel()]

        self._linear(node, scale_per_out)

    def on_Conv(self, node):
        def scale_per_out(wscale, n):
            v = np.asarray(wscale, np.float64)
            if v.size == 1:
                return [_frac(v.ravel()[0])] * n
            if v.shape[0] != n or v.size != n:
                self.refuse(node, f"weight scale of shape {list(v.shape)} is not per output channel")
            return [_frac(x) for x in v.ravel()]

        self._linear(node, scale_per_out)  # a depthwise Conv too: each output channel has its own scale

    # --- elementwise with constants: folded into the affine map ----------------------------------------
    def _constant(self, name):
        """An initializer, or the real values of a quantized constant (a bias behind its Quant node)."""
        value = self.m.get_initializer(name)
        if value is None and name in self.weight_codes:
            codes, scale = self.weight_codes[name]
            value = codes * np.asarray(scale, np.float64)  # exact: integer codes times a float scale
        return value

    def _const_and_other(self, node):
        a, b = node.input[0], node.input[1]
        ca, cb = self._constant(a), self._constant(b)
        if ca is None and cb is None:
            return None, None, False
        const_name = b if cb is not None else a
        producer = self.m.find_producer(const_name)
        if producer is not None and producer.op_type == "Quant":
            self.removed.append(producer)  # folded into the affine map with the node
        return (cb, a, False) if cb is not None else (ca, b, True)

    def _fold(self, node, fn):
        const, other, const_first = self._const_and_other(node)
        src = self.state.get(other)
        if src is None:
            self.refuse(node, "applies to data that is not quantized yet (a float head is not supported)")
        if src.relu:
            self.refuse(node, "follows a ReLU whose input has an offset (no integer form)")
        n = self.n_chan(node.output[0])
        c = _channel_vector(const, node, n, self.source, self.m)
        al = src.alpha * n if len(src.alpha) == 1 else src.alpha
        be = src.beta * n if len(src.beta) == 1 else src.beta
        alpha, beta = fn(al, be, c, const_first)
        self.state[node.output[0]] = Affine(alpha, beta)
        self.drop(node, other)

    def on_Add(self, node):
        const, _, _ = self._const_and_other(node)
        if const is None:
            return self._add_tensors(node, sign=1)
        self._fold(node, lambda al, be, c, _: (al, [x + y for x, y in zip(be, c)]))

    def on_Sub(self, node):
        const, _, _ = self._const_and_other(node)
        if const is None:
            return self._add_tensors(node, sign=-1)
        self._fold(node, lambda al, be, c, first: ([-x for x in al], [y - x for x, y in zip(be, c)]) if first
                   else (al, [x - y for x, y in zip(be, c)]))

    def on_Mul(self, node):
        if self._const_and_other(node)[0] is None:
            self.refuse(node, "multiplying two tensors is not supported")
        self._fold(node, lambda al, be, c, _: ([x * y for x, y in zip(al, c)], [x * y for x, y in zip(be, c)]))

    def on_Div(self, node):
        const, _, first = self._const_and_other(node)
        if const is None or first:
            self.refuse(node, "only division by a constant is supported")
        if np.any(np.asarray(const) == 0):
            self.refuse(node, "division by zero")
        self._fold(node, lambda al, be, c, _: ([x / y for x, y in zip(al, c)], [x / y for x, y in zip(be, c)]))

    def _add_tensors(self, node, sign):
        a, b = (self.state.get(t) for t in node.input[:2])
        if a is None or b is None or a.relu or b.relu:
            self.refuse(node, "adds tensors that are not both quantized")
        if not (a.per_tensor and b.per_tensor) or a.alpha[0] != b.alpha[0]:
            self.refuse(node, "adds two tensors with different scales; give both branches the same quantizer "
                              "scale (no exact integer form otherwise)")
        self.state[node.output[0]] = Affine([a.alpha[0]], [a.beta[0] + sign * b.beta[0]])

    def on_BatchNormalization(self, node):
        src = self.state.get(node.input[0])
        if src is None or src.relu:
            self.refuse(node, "BatchNorm on data that is not quantized, or after a ReLU with an offset")
        n = self.n_chan(node.output[0])
        gamma, beta, mean, var = (np.asarray(self.m.get_initializer(t), np.float64).ravel() for t in node.input[1:5])
        eps = float(attr(node, "epsilon", 1e-5))
        k = gamma / np.sqrt(var + eps)  # as the float64 reference computes it
        al = src.alpha * n if len(src.alpha) == 1 else src.alpha
        be = src.beta * n if len(src.beta) == 1 else src.beta
        alpha = [a * _frac(kk) for a, kk in zip(al, k)]
        bb = [(b - _frac(mu)) * _frac(kk) + _frac(bt) for b, mu, kk, bt in zip(be, mean, k, beta)]
        self.state[node.output[0]] = Affine(alpha, bb)
        self.drop(node, node.input[0])

    # --- ops that stay in hardware ----------------------------------------------------------------------
    def on_Relu(self, node):
        src = self.state.get(node.input[0])
        if src is None:
            self.refuse(node, "ReLU on data that is not quantized (a float head is not supported)")
        if src.relu and src.slope != 0:
            self.refuse(node, "follows a LeakyRelu that was not quantized in between")
        if not src.relu and all(b == 0 for b in src.beta) and all(a > 0 for a in src.alpha):
            self.state[node.output[0]] = src  # relu commutes with a positive scale: keep it in hardware
            return
        lower, upper = (max(src.lower, Fraction(0)), src.upper) if src.relu else (Fraction(0), None)
        # folded into the next quantizer
        self.state[node.output[0]] = Affine(src.alpha, src.beta, relu=True, lower=lower, upper=upper)
        self.drop(node, node.input[0])

    def on_Clip(self, node):
        """ReLU6 / hardtanh: a clamp folded into the next quantizer's thresholds (exact for any bounds)."""
        src = self.state.get(node.input[0])
        if src is None:
            self.refuse(node, "Clip on data that is not quantized (a float head is not supported)")
        if src.relu and src.slope != 0:
            self.refuse(node, "follows a LeakyRelu that was not quantized in between")
        bounds = []
        for i in (1, 2):
            name = node.input[i] if len(node.input) > i else ""
            value = self.m.get_initializer(name) if name else None
            if name and value is None:
                self.refuse(node, "its bounds must be constants")
            bounds.append(None if value is None else _frac(np.asarray(value).ravel()[0]))
        lo, hi = bounds
        if lo is None:
            self.refuse(node, "a Clip without a lower bound has no integer form here (give min, e.g. hardtanh's -1)")
        if src.relu:  # clamps compose: clip(clip(v, l1, u1), l2, u2) = clip(v, max(l1, l2), min(u1, u2))
            lo = max(lo, src.lower)
            hi = src.upper if hi is None else (hi if src.upper is None else min(hi, src.upper))
        self.state[node.output[0]] = Affine(src.alpha, src.beta, relu=True, lower=lo, upper=hi)
        self.drop(node, node.input[0])

    def on_LeakyRelu(self, node):
        """Folded into the next quantizer: its thresholds solve slope * y >= t below zero (exact, any slope)."""
        src = self.state.get(node.input[0])
        slope = _frac(attr(node, "alpha", 0.01))
        if src is None:
            self.refuse(node, "LeakyRelu on data that is not quantized (a float head is not supported)")
        if slope == 0:
            return self.on_Relu(node)
        if src.relu:
            self.refuse(node, "follows another ReLU-like op that was not quantized in between")
        if slope < 0:
            self.refuse(node, f"slope {float(slope)} < 0 is not monotonic (no threshold form)")
        consumers = self.m.find_consumers(node.output[0]) or []
        if not consumers or any(c.op_type != "Quant" for c in consumers):
            self.refuse(node, "a LeakyRelu must feed a quantizer (its output is not integer otherwise)")
        self.state[node.output[0]] = Affine(src.alpha, src.beta, relu=True, slope=slope)
        self.drop(node, node.input[0])

    def _passthrough(self, node, need_monotone=False, need_scalar=False):
        src = self.state.get(node.input[0])
        if src is not None:
            if need_monotone and any(a <= 0 for a in src.alpha):
                self.refuse(node, "max pooling after a negative scale has no integer form")
            if need_scalar and not src.per_tensor:
                self.refuse(node, "reshaping a tensor with per-channel scales is not supported")
        self.state[node.output[0]] = src.scalar() if (src is not None and need_scalar) else src

    def on_MaxPool(self, node):
        self._passthrough(node, need_monotone=True)

    def on_GlobalMaxPool(self, node):
        self._passthrough(node, need_monotone=True)

    def on_Resize(self, node):  # nearest upsampling repeats values: any per-channel map passes through
        self._passthrough(node)

    def on_DepthToSpace(self, node):  # moves values between channels: one map for all of them
        self._passthrough(node, need_scalar=True)

    def on_Transpose(self, node):
        self._passthrough(node, need_scalar=self.state.get(node.input[0]) is not None)

    def on_Reshape(self, node):
        self._passthrough(node, need_scalar=True)

    def on_Flatten(self, node):
        self._passthrough(node, need_scalar=True)

    def on_Concat(self, node):
        states = [self.state.get(t) for t in node.input]
        if any(s is None or not s.per_tensor or s.relu for s in states) or len({s.alpha[0] for s in states}) != 1 \
                or len({s.beta[0] for s in states}) != 1:
            self.refuse(node, "concatenates tensors with different scales")
        self.state[node.output[0]] = states[0]


def streamline(model: ModelWrapper, source: str) -> tuple[ModelWrapper, HostIO]:
    """Rewrite the (channels-last, cleaned) hardware graph into integer arithmetic; see the module doc."""
    from qonnx.transformation.general import RemoveUnusedTensors

    host = _Streamliner(model, source).run()
    # folded biases and BatchNorm parameters are dangling now; hls4ml would make layers of them
    model = model.transform(RemoveUnusedTensors())
    return model, host
