"""Quant and BipolarQuant: the quantizers. A weight quantizer fixes its constant's grid (folded into it); an
activation quantizer becomes an ap_fixed type (RND_CONV, SAT) or, with a float scale, a threshold layer."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from onnx import AttributeProto, TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.intquant import int_quant, max_int, min_int

from jpq2hw.core.fixed import FixedType, Range
from jpq2hw.errors import JpqError
from jpq2hw.core.attrs import attr
from jpq2hw.ops.affine import Affine, channel_vector, frac, is_power_of_two
from jpq2hw.ops.registry import OpRule, register

# the domains in which exporters wrote qonnx's quantizers
QUANT_DOMAINS = {"qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general", "finn", "qonnx", ""}


@dataclass
class QuantSpec:
    node: str
    bits: int
    signed: bool
    narrow: bool
    rounding: str
    scale: float  # the scale itself (any positive float)

    @property
    def scale_exp(self) -> int:
        """scale = 2**scale_exp when the scale is a power of two (else the exponent of its leading bit)."""
        return int(np.frexp(self.scale)[1]) - 1

    def fixed_type(self) -> FixedType:
        frac_bits = -self.scale_exp
        return FixedType(
            signed=self.signed,
            width=self.bits,
            integer=self.bits - frac_bits,
            rounding="RND_CONV" if self.rounding == "ROUND" else "TRN",
            saturation="SAT_SYM" if self.narrow else "SAT",
        )


def quant_spec(model: ModelWrapper, node) -> QuantSpec:
    scale = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64).ravel()[0]
    if node.op_type == "BipolarQuant":  # sign(x) * scale: a 1-bit signed quantizer in qonnx's terms
        return QuantSpec(node=node.name, bits=1, signed=True, narrow=False, rounding="ROUND", scale=float(scale))
    bits = int(np.asarray(model.get_initializer(node.input[3])).ravel()[0])
    attrs = {a.name: a for a in node.attribute}
    return QuantSpec(
        node=node.name,
        bits=bits,
        signed=bool(attrs["signed"].i) if "signed" in attrs else True,
        narrow=bool(attrs["narrow"].i) if "narrow" in attrs else False,
        rounding=attrs["rounding_mode"].s.decode().upper() if "rounding_mode" in attrs else "ROUND",
        scale=float(scale),
    )


def quantized_constant(model: ModelWrapper, node) -> np.ndarray:
    """The values a weight Quant node produces from its constant input (qonnx's own Quant semantics)."""
    attrs = {a.name: a for a in node.attribute}
    x, scale, zeropt, bits = (model.get_initializer(n) for n in node.input)
    return int_quant(
        np.asarray(x, dtype=np.float64), np.asarray(scale, dtype=np.float64), np.asarray(zeropt, dtype=np.float64),
        np.asarray(bits, dtype=np.float64), attrs["signed"].i, attrs["narrow"].i, attrs["rounding_mode"].s.decode(),
    )


# --- validation -----------------------------------------------------------------------------------------

def validate_quant(model, node, label: str, source: str) -> None:
    if node.domain not in QUANT_DOMAINS:
        raise JpqError(f"{source}: {label}: Quant in domain '{node.domain}' is not a QONNX quantizer "
                       f"(known domains: {', '.join(sorted(d or '(empty)' for d in QUANT_DOMAINS))})")
    for a in node.attribute:
        if a.name in ("signed", "narrow"):
            if a.type != AttributeProto.INT or a.i not in (0, 1):
                raise JpqError(f"{source}: {label}: attribute '{a.name}' must be the integer 0 or 1")
        elif a.name == "rounding_mode" and a.type != AttributeProto.STRING:
            raise JpqError(f"{source}: {label}: attribute 'rounding_mode' must be a string")


# --- streamlining -----------------------------------------------------------------------------------------

def quant_needs_streamline(model, node) -> bool:
    """A 1-bit signed Quant is bipolar (qonnx's definition); a scale that is not one power of two has no
    fixed-point form."""
    bits = model.get_initializer(node.input[3])
    if bits is not None and int(np.asarray(bits).ravel()[0]) == 1:
        return True
    scale = model.get_initializer(node.input[1])
    if scale is None:
        return False
    s = np.asarray(scale, dtype=np.float64).ravel()
    return bool(np.any(s <= 0) or len(set(s.tolist())) > 1 or np.frexp(s[0])[0] != 0.5)


def streamline_Quant(w, node):
    m = w.m
    x = node.input[0]
    scale = np.asarray(m.get_initializer(node.input[1]), dtype=np.float64)
    zeropt = np.asarray(m.get_initializer(node.input[2]), dtype=np.float64)
    bits = int(np.asarray(m.get_initializer(node.input[3])).ravel()[0])
    signed, narrow = int(attr(node, "signed", 1)), int(attr(node, "narrow", 0))
    rounding = attr(node, "rounding_mode", "ROUND")
    if np.any(zeropt != 0):
        w.refuse(node, "nonzero zero point")
    const = m.get_initializer(x)
    if const is not None:  # a weight quantizer: keep the integer codes, move the scale into the affine map
        codes = int_quant(np.asarray(const, np.float64), scale, zeropt, np.float64(bits), signed, narrow,
                          rounding) / scale
        m.set_initializer(x, codes.astype(np.float32))
        w.set_param(node, 1, np.ones_like(scale, dtype=np.float32))
        if bits == 1 and signed:  # bipolar weights (qonnx's 1-bit signed Quant): -1/+1 need a 2-bit narrow type
            w.make_pm1(node)
        w.weight_codes[node.output[0]] = (codes, scale)
        w.state[node.output[0]] = None
        return
    src = w.state.get(x)
    if src is None:  # the input quantizer: the host sends its integer codes
        if scale.size != 1:
            w.refuse(node, "per-channel scales on the input quantizer are not supported")
        if w.input_scale is not None:
            w.refuse(node, "a second quantizer on float data: only the input may be quantized on the host")
        w.input_scale = float(scale.ravel()[0])
        w.set_param(node, 1, np.ones_like(scale, dtype=np.float32))
        if bits == 1 and signed:  # bipolar codes -1/+1 need a 2-bit narrow type in hardware
            w.make_pm1(node)
        w.state[node.output[0]] = Affine([frac(w.input_scale)], [Fraction(0)])
        w.host_ops.append({"name": node.name, "op": "Quant", "where": "host (input to integer codes)"})
        return
    n = w.n_chan(x)
    s = channel_vector(scale, node, n, w.source, w.m)
    lo, hi = int(min_int(signed, narrow, bits)), int(max_int(signed, narrow, bits))
    # power-of-two step with no offset: a plain (integer-valued) Quant node does it; not before an add or a
    # concatenation, whose inputs must be in the same units (thresholds give the codes of the real scale)
    if bits > 1 and src.per_tensor and not src.relu and src.beta[0] == 0 and len(set(s)) == 1 \
            and not w.feeds_merge(node.output[0]):
        ratio = s[0] / src.alpha[0]
        if is_power_of_two(ratio) and ratio >= 1:
            w.set_param(node, 1, np.array(float(ratio), dtype=np.float32))
            w.state[node.output[0]] = Affine([src.alpha[0]], [Fraction(0)])
            return
    bipolar = bits == 1 and signed
    if bipolar:
        lo, hi = -1, 1
    thresholds, signs = w.solve_thresholds(src.scalar() if src.per_tensor else src, s, lo, hi, rounding, n,
                                         bipolar=bipolar)
    w.insert_thresholds(node, x, thresholds, signs, lo, hi, step=2 if bipolar else 1)
    w.state[node.output[0]] = Affine(s, [Fraction(0)] * n)

def streamline_BipolarQuant(w, node):
    """sign(x) * scale, with sign(0) = +1 (qonnx's definition): codes -1/+1."""
    m = w.m
    x = node.input[0]
    if m.get_initializer(node.input[1]) is None:
        w.refuse(node, "its scale must be a constant")
    scale = np.asarray(m.get_initializer(node.input[1]), dtype=np.float64)
    const = m.get_initializer(x)
    if const is not None:  # bipolar weights: integer codes +-1
        codes = np.where(np.asarray(const, np.float64) >= 0, 1.0, -1.0)
        m.set_initializer(x, codes.astype(np.float32))
        w.replace_with_pm1_quant(node)
        w.weight_codes[node.output[0]] = (codes, scale)
        w.state[node.output[0]] = None
        return
    src = w.state.get(x)
    if src is None:  # the input quantizer: the host sends -1/+1 codes
        if w.input_scale is not None or scale.size != 1:
            w.refuse(node, "only the input may be quantized on the host, with one scale")
        w.input_scale = float(scale.ravel()[0])
        w.replace_with_pm1_quant(node)
        w.state[node.output[0]] = Affine([frac(w.input_scale)], [Fraction(0)])
        w.host_ops.append({"name": node.name, "op": "BipolarQuant", "where": "host (input to -1/+1 codes)"})
        return
    n = w.n_chan(x)
    s = channel_vector(scale, node, n, w.source, w.m)
    thresholds, signs = w.solve_thresholds(src.scalar() if src.per_tensor else src, s, -1, 1, "ROUND", n,
                                         bipolar=True)
    w.insert_thresholds(node, x, thresholds, signs, -1, 1, step=2)
    w.state[node.output[0]] = Affine(s, [Fraction(0)] * n)

# --- value range -------------------------------------------------------------------------------------------

def quant_range(ranges, model, node) -> Range | None:
    """The quantizer's fixed-point type's range (what hls4ml holds the tensor in); a weight quantizer's output
    is a constant, read by its layer."""
    if model.get_initializer(node.input[0]) is not None:
        return None
    return quant_spec(model, node).fixed_type().range()


# --- float64 reference --------------------------------------------------------------------------------------

def quant_float64(m, node) -> list | None:
    """x / s + z -> Round (half to even; Floor/Ceil for those modes) -> Clip(min_int, max_int) -> - z -> * s, in
    float64. qonnx's own Quant executor casts its output to float32, which a float64 graph (onnxruntime:
    "expected tensor(double)") cannot take, and which would round values wider than 24 bits. Bipolar (qonnx's
    1-bit signed Quant too): x >= 0 -> +s, else -s."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    bitwidth = float(np.asarray(m.get_initializer(node.input[3])).ravel()[0]) if node.op_type == "Quant" else 1
    signed = int(attrs.get("signed", 1))
    p = f"{node.output[0]}__f64"
    if bitwidth == 1 and signed:
        x, scale = node.input[0], node.input[1]
        m.set_initializer(f"{p}_zero", np.asarray(0.0, dtype=np.float64))
        m.set_initializer(f"{p}_two", np.asarray(2.0, dtype=np.float64))
        m.set_initializer(f"{p}_one", np.asarray(1.0, dtype=np.float64))
        return [
            helper.make_node("GreaterOrEqual", [x, f"{p}_zero"], [f"{p}_ge"]),
            helper.make_node("Cast", [f"{p}_ge"], [f"{p}_01"], to=TensorProto.DOUBLE),
            helper.make_node("Mul", [f"{p}_01", f"{p}_two"], [f"{p}_02"]),
            helper.make_node("Sub", [f"{p}_02", f"{p}_one"], [f"{p}_pm1"]),
            helper.make_node("Mul", [f"{p}_pm1", scale], [node.output[0]], name=node.name),
        ]
    x, scale, zeropt, _ = node.input
    narrow = int(attrs.get("narrow", 0))
    mode = attrs.get("rounding_mode", b"ROUND")
    mode = (mode.decode() if isinstance(mode, bytes) else mode).upper()
    rnd = {"ROUND": "Round", "ROUND_TO_ZERO": None, "FLOOR": "Floor", "CEIL": "Ceil"}.get(mode)
    if rnd is None:
        return None  # left to qonnx's executor (never reached: validation refuses other modes)
    lo, hi = f"{p}_lo", f"{p}_hi"
    m.set_initializer(lo, np.asarray(min_int(signed, narrow, bitwidth), dtype=np.float64))
    m.set_initializer(hi, np.asarray(max_int(signed, narrow, bitwidth), dtype=np.float64))
    return [
        helper.make_node("Div", [x, scale], [f"{p}_div"]),
        helper.make_node("Add", [f"{p}_div", zeropt], [f"{p}_zp"]),
        helper.make_node(rnd, [f"{p}_zp"], [f"{p}_int"]),
        helper.make_node("Clip", [f"{p}_int", lo, hi], [f"{p}_clip"]),
        helper.make_node("Sub", [f"{p}_clip", zeropt], [f"{p}_unzp"]),
        helper.make_node("Mul", [f"{p}_unzp", scale], [node.output[0]], name=node.name),
    ]


register("Quant", OpRule(
    "fixed-point type of a weight (folded into it) or an activation quantizer (ap_fixed, RND_CONV, SAT)",
    inputs=(4, 4), quantizer=True, rtl="Quant", validate=validate_quant, needs_streamline=quant_needs_streamline,
    streamline=streamline_Quant, value_range=quant_range, float64=quant_float64))
register("BipolarQuant", OpRule(
    "+1/-1 weights (integer codes) or activations (a one-step threshold layer)", inputs=(2, 2), quantizer=True,
    needs_streamline=lambda model, node: True, streamline=streamline_BipolarQuant, value_range=quant_range,
    float64=quant_float64))
