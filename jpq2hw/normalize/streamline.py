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

from jpq2hw.core.attrs import attr
from jpq2hw.core.node_names import node_label
from jpq2hw.errors import JpqError
from jpq2hw.ops import OPS, THRESHOLD_DOMAIN, THRESHOLD_OP
from jpq2hw.ops.affine import Affine, channel_vector, frac


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


def needs_streamline(model: ModelWrapper) -> bool:
    """True when some node has no plain fixed-point form (its op rule says so: a Quant whose scale is not a
    single power of two, a bipolar quantizer, a clamp, a float rescale...)."""
    for node in model.graph.node:
        rule = OPS.get(node.op_type)
        if rule is not None and rule.needs_streamline is not None and rule.needs_streamline(model, node):
            return True
    return False


class _Streamliner:
    """The walk over the graph in order: each op's rule (jpq2hw/ops/, `streamline`) reads the affine maps of
    its inputs from `state` and sets its output's, keeping, replacing or dropping its node through the
    helpers here."""

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
            rule = OPS.get(node.op_type)
            if rule is None or rule.streamline is None:
                self.refuse(node, "no integer form for this op in a model with float scales")
            rule.streamline(self, node)
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
    def set_param(self, node, k: int, value: np.ndarray) -> None:
        """Give input k of `node` a new constant of its own (exporters share parameter tensors between nodes)."""
        node.input[k] = self.new_const(f"{node.name}_param{k}_int", value)

    def make_pm1(self, node) -> None:
        """A 1-bit signed Quant passes -1/+1 (qonnx's bipolar case); in hardware that is a 2-bit narrow type."""
        self.set_param(node, 3, np.array(2.0, dtype=np.float32))
        for a in node.attribute:
            if a.name == "narrow":
                a.i = 1

    def is_constant(self, name: str) -> bool:
        producer = self.m.find_producer(name)
        return self.m.get_initializer(name) is not None or (
            producer is not None and producer.op_type == "Quant" and self.m.get_initializer(producer.input[0]) is not None)

    def feeds_merge(self, tensor: str) -> bool:
        """Whether `tensor` reaches an Add/Sub of two tensors or a Concat through layout and pooling ops."""
        frontier, seen = [tensor], set()
        while frontier:
            t = frontier.pop()
            for c in self.m.find_consumers(t) or []:
                if c.op_type == "Concat" or (c.op_type in ("Add", "Sub")
                                             and not any(self.is_constant(i) for i in c.input)):
                    return True
                if c.op_type in ("MaxPool", "GlobalMaxPool", "Reshape", "Flatten", "Transpose", "Identity") \
                        and c.output[0] not in seen:
                    seen.add(c.output[0])
                    frontier.append(c.output[0])
        return False

    def insert_thresholds(self, node, x, thresholds, signs, lo, hi, step):
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

    def replace_with_pm1_quant(self, node) -> None:
        """Replace a BipolarQuant by a 2-bit narrow integer Quant (scale 1) that passes the -1/+1 codes: the
        type hls4ml needs for them."""
        params = [self.new_const(node.name + suffix, v) for suffix, v in (("_one", 1.0), ("_zero", 0.0), ("_bits", 2.0))]
        new = helper.make_node("Quant", [node.input[0], *params], [node.output[0]], name=node.name + "_codes",
                               domain="qonnx.custom_op.general", signed=1, narrow=1, rounding_mode="ROUND")
        new.metadata_props.extend(node.metadata_props)
        self.m.graph.node.insert(list(self.m.graph.node).index(node), new)
        self.removed.append(node)

    def new_const(self, name: str, value: float) -> str:
        self.m.set_initializer(name, np.array(value, dtype=np.float32))
        return name

    def solve_thresholds(self, src: Affine, s: list[Fraction], lo: int, hi: int, rounding: str, n: int,
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
    def linear(self, node, out_channels_axis_scale):
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
            b = self.constant(node.input[2])
            if b is not None and self.m.get_initializer(node.input[2]) is None:  # a quantized bias
                self.removed.append(self.m.find_producer(node.input[2]))
            if b is None:
                self.refuse(node, "its bias is not a constant")
            beta = [frac(v) for v in np.asarray(b, np.float64).ravel()]
            del node.input[2]
        self.state[node.output[0]] = Affine(alpha, beta)


    def _depthwise(self, node) -> bool:
        """A Conv whose output channel c reads input channel c only (group = channels in = channels out)."""
        return node.op_type == "Conv" and int(attr(node, "group", 1)) == self.n_chan(node.input[0]) \
            == self.n_chan(node.output[0])

    # --- elementwise with constants: folded into the affine map ----------------------------------------
    def constant(self, name):
        """An initializer, or the real values of a quantized constant (a bias behind its Quant node)."""
        value = self.m.get_initializer(name)
        if value is None and name in self.weight_codes:
            codes, scale = self.weight_codes[name]
            value = codes * np.asarray(scale, np.float64)  # exact: integer codes times a float scale
        return value

    def const_and_other(self, node):
        a, b = node.input[0], node.input[1]
        ca, cb = self.constant(a), self.constant(b)
        if ca is None and cb is None:
            return None, None, False
        const_name = b if cb is not None else a
        producer = self.m.find_producer(const_name)
        if producer is not None and producer.op_type == "Quant":
            self.removed.append(producer)  # folded into the affine map with the node
        return (cb, a, False) if cb is not None else (ca, b, True)

    def fold(self, node, fn):
        const, other, const_first = self.const_and_other(node)
        src = self.state.get(other)
        if src is None:
            self.refuse(node, "applies to data that is not quantized yet (a float head is not supported)")
        if src.relu:
            self.refuse(node, "follows a ReLU whose input has an offset (no integer form)")
        n = self.n_chan(node.output[0])
        c = channel_vector(const, node, n, self.source, self.m)
        al = src.alpha * n if len(src.alpha) == 1 else src.alpha
        be = src.beta * n if len(src.beta) == 1 else src.beta
        alpha, beta = fn(al, be, c, const_first)
        self.state[node.output[0]] = Affine(alpha, beta)
        self.drop(node, other)

    def add_tensors(self, node, sign):
        a, b = (self.state.get(t) for t in node.input[:2])
        if a is None or b is None or a.relu or b.relu:
            self.refuse(node, "adds tensors that are not both quantized")
        if not (a.per_tensor and b.per_tensor) or a.alpha[0] != b.alpha[0]:
            self.refuse(node, "adds two tensors with different scales; give both branches the same quantizer "
                              "scale (no exact integer form otherwise)")
        self.state[node.output[0]] = Affine([a.alpha[0]], [a.beta[0] + sign * b.beta[0]])

    # --- ops that stay in hardware ----------------------------------------------------------------------
    def passthrough(self, node, need_monotone=False, need_scalar=False):
        src = self.state.get(node.input[0])
        if src is not None:
            if need_monotone and any(a <= 0 for a in src.alpha):
                self.refuse(node, "max pooling after a negative scale has no integer form")
            if need_scalar and not src.per_tensor:
                self.refuse(node, "reshaping a tensor with per-channel scales is not supported")
        self.state[node.output[0]] = src.scalar() if (src is not None and need_scalar) else src


def streamline(model: ModelWrapper, source: str) -> tuple[ModelWrapper, HostIO]:
    """Rewrite the (channels-last, cleaned) hardware graph into integer arithmetic; see the module doc."""
    from qonnx.transformation.general import RemoveUnusedTensors

    host = _Streamliner(model, source).run()
    # folded biases and BatchNorm parameters are dangling now; hls4ml would make layers of them
    model = model.transform(RemoveUnusedTensors())
    return model, host
