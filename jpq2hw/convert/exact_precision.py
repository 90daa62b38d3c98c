"""An hls4ml optimizer pass that gives every tensor of the converted model an exact fixed-point type.

hls4ml's own `bit_exact` pass assumes Keras-style graphs (tensor name == layer name) and treats the
Activations made from QONNX Quant nodes as plain pass-throughs, so it neither runs nor helps on QONNX.
This pass walks the hls4ml graph in order, carries the exact value Range of every tensor (starting from
the trusted input type) and sets:
  - accum_t of Dense/Conv to the exact range of bias + sum(w * x) over the real (nonzero) weights,
  - result_t to the same exact type, unless the layer feeds a Quant-made linear Activation that hls4ml
    will merge into it (then the quantizer's type with its rounding/saturation becomes the result),
  - weight_t and bias_t to the narrowest type that holds every constant exactly.
Anything it cannot make exact raises NotExactError naming the layer: never a silent approximation.
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.layers import (
    Activation,
    BatchNormalization,
    Concatenate,
    Conv1D,
    Conv2D,
    Dense,
    GlobalPooling1D,
    GlobalPooling2D,
    Input,
    Merge,
    Pooling1D,
    ParametrizedActivation,
    Pooling2D,
    Reshape,
    Transpose,
    ZeroPadding1D,
    ZeroPadding2D,
)
from hls4ml.model.optimizer import ModelOptimizerPass
from hls4ml.model.quantizers import QuantNodeQuantizer
from hls4ml.model.types import FixedPrecisionType, NamedType

from jpq2hw.core.fixed import FixedType, Range, constant_range, dot_range

PASS_NAME = "jpq2hw_exact_precision"
CONFIG_KEY = "Jpq2hwExact"  # in HLSConfig.Model; the pass does nothing unless it is set
# a wider value is not exact in float64: the reference (float64 at best) and the testbench's double I/O would round
# it alike and could not prove the hardware right, so the build refuses instead of reporting a verdict it cannot give
MAX_WIDTH = 53


# Exact-type rules for custom layers (registered by jpq2hw/extensions/): class_name -> rule(layer, input_ranges)
# returning the output Range; the rule sets the layer's own types with set_type().
CUSTOM_RULES: dict = {}


def register_rule(class_name: str, rule) -> None:
    CUSTOM_RULES[class_name] = rule


class NotExactError(Exception):
    """The model contains something this pass cannot give an exact type (message names the layer)."""


def to_hls(t: FixedType) -> FixedPrecisionType:
    rnd = None if t.rounding == "TRN" else t.rounding
    sat = None if t.saturation == "WRAP" else t.saturation
    return FixedPrecisionType(t.width, t.integer, t.signed, rnd, sat)


def from_hls(p) -> FixedType:
    if not isinstance(p, FixedPrecisionType):
        raise NotExactError(f"precision {p} is not a fixed-point type")
    rnd = p.rounding_mode.name if p.rounding_mode is not None else "TRN"
    sat = p.saturation_mode.name if p.saturation_mode is not None else "WRAP"
    return FixedType(bool(p.signed), int(p.width), int(p.integer), rnd, sat)


def _is_quantizer(layer) -> bool:
    return (
        isinstance(layer, Activation)
        and layer.get_attr("activation") == "linear"
        and isinstance(layer.get_attr("quantizer"), QuantNodeQuantizer)
    )


def _consumers(model, layer):
    outs = set(layer.outputs)
    return [l for l in model.graph.values() if outs & set(l.inputs)]


def set_type(layer, attr: str, t: FixedType) -> None:
    """Give `layer` the exact type `t` for `attr` (result_t, accum_t, weight_t, bias_t...)."""
    if t.width > MAX_WIDTH:
        raise NotExactError(f"layer {layer.name}: exact {attr} needs {t.width} bits, more than the {MAX_WIDTH} a float64 "
                            "holds exactly (the check against the reference could not see an error)")
    named = NamedType(f"{layer.name}_{attr}", to_hls(t))
    layer.attributes[attr] = named
    if attr == "result_t":
        layer.get_output_variable().type = named
    var_name = attr[:-2]
    var = layer.attributes.get(var_name)
    if attr != "result_t" and var is not None and hasattr(var, "update_precision"):
        var.type = named
        var.update_precision(named.precision)
        layer.model.config.layer_name_precision[f"{layer.name}_{var_name}"] = str(named.precision)


def _constant_type(layer, values: np.ndarray, rounded_from: bool = True) -> FixedType:
    try:
        return constant_range(values).to_type(rounded_from)
    except ValueError:
        raise NotExactError(f"layer {layer.name}: constant is not finite") from None


class ExactPrecision(ModelOptimizerPass):
    def __init__(self):  # hls4ml instantiates registered passes without arguments
        pass

    def transform(self, model) -> bool:
        if not model.config.config["HLSConfig"]["Model"].get(CONFIG_KEY, False):
            return False
        ranges: dict[str, Range] = {}
        for layer in list(model.graph.values()):
            out = self._layer_range(model, layer, ranges)
            for name in layer.outputs:
                ranges[name] = out
        return False

    # --- one rule per layer kind -------------------------------------------------------------------

    def _layer_range(self, model, layer, ranges) -> Range:
        ins = [ranges[n] for n in layer.inputs if n in ranges]
        # The pass runs on every round of hls4ml's optimizer loop, before and after hls4ml merges a quantizer
        # into the layer that feeds it; both states must give the same types.
        quantizer = layer.get_attr("quantizer")
        merged = isinstance(quantizer, QuantNodeQuantizer) and not _is_quantizer(layer)
        cons = _consumers(model, layer)
        merged_into_quantizer = merged or (
            len(cons) == 1 and _is_quantizer(cons[0]) and isinstance(layer, (Dense, Conv1D, Conv2D, Activation, BatchNormalization))
        )

        if layer.class_name == "Constant" and all(c.class_name == "Resize" for c in cons):
            return Range(0, 0, 0)  # a Resize's scales/RoI (or left unused): read at conversion, not data
        if isinstance(layer, Input):
            t = from_hls(layer.get_output_variable().type.precision)
            return t.range()
        if _is_quantizer(layer):
            t = from_hls(layer.get_attr("quantizer").hls_type)
            return t.range()
        leaky = isinstance(layer, ParametrizedActivation) and layer.get_attr("activation").lower() == "leakyrelu"
        if (isinstance(layer, Activation) and layer.class_name == "Activation") or leaky:
            act = layer.get_attr("activation").lower()
            if leaky:  # x >= 0: x; below: alpha * x, exact with alpha in its own exact type
                alpha = np.array([float(layer.get_attr("activ_param"))])
                set_type(layer, "param_t", _constant_type(layer, alpha))
                negative = Range(min(ins[0].lo, 0), 0, ins[0].frac)
                out = ins[0].relu().union(dot_range(negative, alpha.reshape(1, 1)))
            elif act == "relu":
                out = ins[0].relu()
            elif act == "linear":
                out = ins[0]
            else:
                raise NotExactError(f"layer {layer.name}: activation '{act}' has no exact fixed-point form")
            if merged:
                return from_hls(quantizer.hls_type).range()
            if not merged_into_quantizer:
                set_type(layer, "result_t", out.to_type())
            return out
        if isinstance(layer, (Dense, Conv1D, Conv2D)):
            w = layer.get_attr("weight").data
            n_out = w.shape[-1]
            # depthwise weights are (kh, kw, 1, C): column c is channel c's kernel, as for a dense layer
            w2 = w.reshape(-1, n_out)
            b_var = layer.get_attr("bias")
            b = b_var.data if b_var is not None else None
            out = dot_range(ins[0], w2, b)
            acc = out.to_type()
            # weights are only multiplied, biases only added into the TRN/WRAP accumulator: never rounded from
            set_type(layer, "weight_t", _constant_type(layer, w, rounded_from=False))
            if b is not None:
                set_type(layer, "bias_t", _constant_type(layer, b, rounded_from=False))
            set_type(layer, "accum_t", acc)
            if merged:
                return from_hls(quantizer.hls_type).range()
            if not merged_into_quantizer:
                set_type(layer, "result_t", acc)
            return out
        if isinstance(layer, (Pooling1D, Pooling2D, GlobalPooling1D, GlobalPooling2D)):
            if layer.get_attr("pool_op", "Max") != "Max":
                raise NotExactError(f"layer {layer.name}: average pooling is not supported yet (use max pooling)")
            out = ins[0]
            if isinstance(layer, (Pooling1D, Pooling2D)) and any(
                layer.get_attr(p, 0) for p in ("pad_top", "pad_bottom", "pad_left", "pad_right")):
                out = out.union(Range(0, 0, out.frac))
            t = out.to_type()
            if "accum_t" in layer.attributes:
                set_type(layer, "accum_t", t)
            set_type(layer, "result_t", t)
            return out
        if isinstance(layer, Concatenate):
            out = ins[0]
            for r in ins[1:]:
                out = out.union(r)
            set_type(layer, "result_t", out.to_type())
            return out
        if isinstance(layer, Merge):
            op = layer.get_attr("op", "").lower()
            if op == "add":
                out = ins[0] + ins[1]
            elif op == "subtract":
                out = ins[0] + Range(-ins[1].hi, -ins[1].lo, ins[1].frac)
            elif op in ("maximum", "minimum"):
                out = ins[0].union(ins[1])
            else:
                raise NotExactError(f"layer {layer.name}: merge '{op}' is not supported yet")
            t = out.to_type()
            if "accum_t" in layer.attributes:
                set_type(layer, "accum_t", t)
            set_type(layer, "result_t", t)
            return out
        if isinstance(layer, BatchNormalization):
            scale = np.asarray(layer.get_attr("scale").data, dtype=np.float64).ravel()
            bias_var = layer.get_attr("bias")
            bias = np.asarray(bias_var.data, dtype=np.float64).ravel() if bias_var is not None else np.zeros_like(scale)
            # y = s*x + b per element: a diagonal dot product
            out = dot_range(ins[0], scale.reshape(1, -1), bias)
            set_type(layer, "scale_t", _constant_type(layer, scale))
            set_type(layer, "bias_t", _constant_type(layer, bias))
            if merged:
                return from_hls(quantizer.hls_type).range()
            if not merged_into_quantizer:
                set_type(layer, "result_t", out.to_type())
            return out
        if layer.class_name == "Resize":  # hls4ml's resize_nearest takes and gives one and the same type
            set_type(layer, "result_t", from_hls(layer.get_input_variable().type.precision))
            return ins[0]
        if isinstance(layer, (Reshape, Transpose)) or layer.class_name in ("Flatten", "Clone"):
            out = ins[0]
            set_type(layer, "result_t", out.to_type())
            return out
        if isinstance(layer, (ZeroPadding1D, ZeroPadding2D)):
            out = ins[0].union(Range(0, 0, ins[0].frac))
            set_type(layer, "result_t", out.to_type())
            return out
        if layer.class_name in CUSTOM_RULES:
            return CUSTOM_RULES[layer.class_name](layer, ins)
        raise NotExactError(f"layer {layer.name} ({layer.class_name}) has no exact fixed-point rule yet")


def install() -> None:
    """Register the pass with hls4ml and put it in the 'convert' flow where 'bit_exact' sits (after the
    QONNX parsing and channels-last passes, before hls4ml merges quantizers and infers 'auto' types)."""
    from hls4ml.model.flow.flow import get_flow
    from hls4ml.model.optimizer import get_available_passes, register_pass

    if PASS_NAME not in get_available_passes():
        register_pass(PASS_NAME, ExactPrecision)
    flow = get_flow("convert")
    if PASS_NAME not in flow.optimizers:
        flow.optimizers.insert(flow.optimizers.index("bit_exact"), PASS_NAME)
