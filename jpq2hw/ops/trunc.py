"""Trunc: Brevitas's quantized average pooling (TruncAvgPool) truncates the window sum to fewer bits. Everything
jpq2hw does with the op is here: its checks and hardware form (normalization passes) and its float64 reference
(the rule's float64 hook).

qonnx's Trunc (version 2, six inputs x, scale, zeropt, in_bits, out_scale, out_bits) computes
    y = round(x / scale + zeropt)                      the sum's integer code
    T = 2 ** round(log2(out_scale / scale))            a power of two
    code = mode(clip(y / T, min_int, max_int))         min/max of out_bits, signed, narrow; mode ROUND/FLOOR
    out = (code - zeropt / T) * out_scale
With zero point 0 and out_scale = scale * T exactly, that is two quantizers, which the hardware has:
    Quant(x, scale, bits=in_bits + 1)  ->  Quant(., out_scale, out_bits, mode)
The first one gives the integer code of x (exact on the avgpool's grid, and it absorbs float rounding of x in the
reference); the clip of the second one commutes with the rounding since its bounds are integers. in_bits + 1,
signed: the code is never clipped (qonnx's Trunc does not clip it), whatever the sign of x.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.quant import max_int, min_int

from jpq2hw.core.attrs import attr
from jpq2hw.core.node_names import node_label
from jpq2hw.errors import JpqError
from jpq2hw.ops.registry import OpRule, register

QUANT_DOMAIN = "qonnx.custom_op.general"
MODES = ("ROUND", "FLOOR")  # what the hardware's second quantizer (ap_fixed RND_CONV / TRN) does


def _params(model: ModelWrapper, node) -> list[np.ndarray] | None:
    values = [model.get_initializer(i) for i in node.input[1:6]]
    return None if any(v is None for v in values) else [np.asarray(v, dtype=np.float64) for v in values]


def trunc_factor(scale: float, out_scale: float) -> float:
    """T, as qonnx computes it."""
    return float(2.0 ** np.round(np.log2(out_scale / scale)))


def check_truncs(model: ModelWrapper, source: str) -> None:
    """Refuse, naming the node, a Trunc that is not two quantizers (after constants are folded)."""
    for node in model.get_nodes_by_op_type("Trunc"):
        label = node_label(node)
        if len(node.input) != 6:
            raise JpqError(f"{source}: {label}: Trunc with {len(node.input)} inputs (qonnx's version 1) is not "
                           f"supported; re-export with Brevitas >= 0.10 (Trunc with 6 inputs, an output scale)")
        params = _params(model, node)
        if params is None:
            raise JpqError(f"{source}: {label}: Trunc's scales, zero point and bit widths must be constants")
        scale, zeropt, in_bits, out_scale, out_bits = params
        if any(p.size != 1 for p in params):
            raise JpqError(f"{source}: {label}: Trunc with per-channel parameters is not supported (one scale)")
        s, so = float(scale.item()), float(out_scale.item())
        if not (np.isfinite(s) and np.isfinite(so) and s > 0 and so > 0):
            raise JpqError(f"{source}: {label}: Trunc's scales must be positive and finite")
        if zeropt.item() != 0:
            raise JpqError(f"{source}: {label}: Trunc with a nonzero zero point is not supported")
        for name, b in (("input", in_bits.item()), ("output", out_bits.item())):
            if b != int(b) or not 1 <= b <= 32:
                raise JpqError(f"{source}: {label}: Trunc's {name} bit width {b} is not an integer in 1..32")
        if s * trunc_factor(s, so) != so:
            raise JpqError(f"{source}: {label}: Trunc's output scale {so:.9g} is not its input scale {s:.9g} "
                           f"times a power of two (no exact shift)")
        mode = str(attr(node, "rounding_mode", "FLOOR")).upper()
        if mode not in MODES:
            raise JpqError(f"{source}: {label}: Trunc rounding_mode {mode} is not supported ({' or '.join(MODES)})")
        if int(attr(node, "narrow", 0)) and not int(attr(node, "signed", 1)):
            raise JpqError(f"{source}: {label}: narrow range on an unsigned Trunc is not supported")


def truncs_as_quants(model: ModelWrapper) -> ModelWrapper:
    """The hardware form (see the module doc); after check_truncs."""
    for node in list(model.get_nodes_by_op_type("Trunc")):
        scale, _, in_bits, out_scale, out_bits = (float(p.item()) for p in _params(model, node))
        code = model.make_new_valueinfo_name()

        def const(base, value):
            name = f"{node.name}_{base}"
            model.set_initializer(name, np.asarray(value, dtype=np.float32))
            return name

        zero = const("zero", 0.0)
        first = helper.make_node("Quant", [node.input[0], const("scale", scale), zero, const("sum_bits", in_bits + 1)],
                                 [code], name=f"{node.name}_sum", domain=QUANT_DOMAIN, signed=1, narrow=0,
                                 rounding_mode="ROUND")
        second = helper.make_node("Quant", [code, const("out_scale", out_scale), zero, const("out_bits", out_bits)],
                                  [node.output[0]], name=node.name, domain=QUANT_DOMAIN,
                                  signed=int(attr(node, "signed", 1)), narrow=int(attr(node, "narrow", 0)),
                                  rounding_mode=str(attr(node, "rounding_mode", "FLOOR")).upper())
        idx = list(model.graph.node).index(node)
        for new in (second, first):
            for p in node.metadata_props:  # errors name the user's Trunc
                new.metadata_props.add(key=p.key, value=p.value)
            model.graph.node.insert(idx, new)
        model.graph.node.remove(node)
    return model


def trunc_float64(m: ModelWrapper, node) -> list:
    """qonnx's trunc_v2 in standard ONNX ops on doubles (onnxruntime has no Trunc), step by step as qonnx does it."""
    scale, zeropt, _, out_scale, out_bits = (float(p.item()) for p in _params(m, node))
    signed, narrow = int(attr(node, "signed", 1)), int(attr(node, "narrow", 0))
    t = trunc_factor(scale, out_scale)
    rnd = {"ROUND": "Round", "FLOOR": "Floor"}[str(attr(node, "rounding_mode", "FLOOR")).upper()]
    p = f"{node.output[0]}__f64"
    for base, value in (("scale", scale), ("zp", zeropt), ("t", t), ("lo", min_int(signed, narrow, out_bits)),
                        ("hi", max_int(signed, narrow, out_bits)), ("zpt", zeropt / t), ("out_scale", out_scale)):
        m.set_initializer(f"{p}_{base}", np.asarray(value, dtype=np.float64))
    x = node.input[0]
    return [
        helper.make_node("Div", [x, f"{p}_scale"], [f"{p}_div"]),
        helper.make_node("Add", [f"{p}_div", f"{p}_zp"], [f"{p}_shift"]),
        helper.make_node("Round", [f"{p}_shift"], [f"{p}_code"]),
        helper.make_node("Div", [f"{p}_code", f"{p}_t"], [f"{p}_scaled"]),
        helper.make_node("Clip", [f"{p}_scaled", f"{p}_lo", f"{p}_hi"], [f"{p}_clip"]),
        helper.make_node(rnd, [f"{p}_clip"], [f"{p}_int"]),
        helper.make_node("Sub", [f"{p}_int", f"{p}_zpt"], [f"{p}_unzp"]),
        helper.make_node("Mul", [f"{p}_unzp", f"{p}_out_scale"], [node.output[0]], name=node.name),
    ]


# checks and hardware form: normalization's check_truncs and truncs_as_quants passes (jpq2hw/normalize/passes.py)
register("Trunc", OpRule(
    "Brevitas's quantized average pooling (TruncAvgPool): the window sum's integer code shifted to the output bits "
    "(round half to even or floor), two fixed-point quantizers", inputs=(5, 6), float64=trunc_float64))
