"""The multi-threshold requantizer (Jpq2hwThreshold) as an hls4ml custom layer.

jpq2hw/normalize/streamline.py puts Jpq2hwThreshold nodes into the hardware graph of models with float
scales; this module teaches hls4ml to read them (an ONNX handler), what they are in its IR (a Layer with the
thresholds and per-channel signs as weights), how to write them (config and call from Jinja templates,
the C++ in templates/hls/nnet_jpq2hw_threshold.h), and gives the exact-precision pass their types.
"""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from jpq2hw.core.fixed import FixedType, Range
from jpq2hw.paths import TEMPLATES
from jpq2hw.templating import render

CLASS_NAME = "Jpq2hwThreshold"
HEADER = "nnet_jpq2hw_threshold.h"
BACKENDS = ("Vitis", "Vivado")
_REGISTERED = False
PLACEHOLDER = 1 << 40  # stands for +-infinity until the exact pass clamps thresholds to the input range


def _layer_class():
    from hls4ml.model.layers import Layer
    from hls4ml.model.types import FixedPrecisionType

    class Jpq2hwThreshold(Layer):
        def initialize(self):
            inp = self.get_input_variable()
            self.add_output_variable(inp.shape)
            thr = np.clip(np.asarray(self.get_attr("thresholds_data"), dtype=np.float64), -PLACEHOLDER, PLACEHOLDER)
            wide = FixedPrecisionType(48, 48, True)
            self.add_weights_variable(name="thresholds", var_name="thr{index}", data=thr.ravel(), precision=wide)
            self.add_weights_variable(name="signs", var_name="sgn{index}",
                                      data=np.asarray(self.get_attr("signs_data"), dtype=np.float64),
                                      precision=FixedPrecisionType(2, 2, True))

    return Jpq2hwThreshold


def _parse_onnx(node, input_names, input_shapes, graph):
    attrs = {a.name: a for a in node.attribute}
    thresholds = numpy_helper.to_array(attrs["thresholds"].t)
    signs = numpy_helper.to_array(attrs["signs"].t)
    return {
        "class_name": CLASS_NAME,
        "name": node.name,
        "inputs": input_names,
        "outputs": list(node.output),
        "thresholds_data": thresholds,
        "signs_data": signs,
        "n_chan": int(thresholds.shape[0]),
        "n_levels": int(thresholds.shape[1]),
        "out_lo": int(helper.get_attribute_value(attrs["out_lo"])),
        "out_hi": int(helper.get_attribute_value(attrs["out_hi"])),
        "out_step": int(helper.get_attribute_value(attrs["out_step"])) if "out_step" in attrs else 1,
    }


def _templates(layer_cls):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

    class ThresholdConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(layer_cls)

        def format(self, node):
            p = self._default_config_params(node)
            levels = node.get_attr("n_levels")
            thr_t = node.get_attr("thresholds_t").precision
            return render(
                "hls/threshold_config.h.j2",
                index=node.index, n_in=node.get_input_variable().size(), n_chan=node.get_attr("n_chan"),
                n_levels=levels, out_lo=node.get_attr("out_lo"), out_step=node.get_attr("out_step", 1),
                thresholds_t=node.get_attr("thresholds_t").name, signs_t=node.get_attr("signs_t").name,
                signed_t=f"ap_fixed<{thr_t.width + 1},{thr_t.integer + 1}>",
                count_bits=max(1, int(levels).bit_length()), iotype=p["iotype"],
            )

    class ThresholdFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(layer_cls, include_header=[f"nnet_utils/{HEADER}"])

        def format(self, node):
            p = self._default_function_params(node)
            p.update(thresholds=node.get_weights("thresholds").name, signs=node.get_weights("signs").name)
            return render("hls/threshold_call.h.j2", **p).strip()

    return ThresholdConfigTemplate, ThresholdFunctionTemplate


def exact_rule(layer, ins: list[Range]) -> Range:
    """Output: the integer codes out_lo..out_hi. Thresholds: clamped to just outside the input's exact range
    (a threshold below it is always passed, one above never), then stored on the input's grid."""
    from jpq2hw.convert.exact_precision import set_type

    x = ins[0]
    var = layer.get_weights("thresholds")
    thr = np.asarray(layer.get_attr("thresholds_data"), dtype=np.float64).reshape(layer.get_attr("n_chan"), -1)
    signs = np.asarray(layer.get_attr("signs_data")).ravel()
    # sign * x ranges over [-hi, -lo] for descending channels; the thresholds are integers
    lo = min(x.min, -x.max) if np.any(signs < 0) else x.min
    hi = max(x.max, -x.min) if np.any(signs < 0) else x.max
    lo_i, hi_i = int(np.floor(float(lo))) - 1, int(np.ceil(float(hi))) + 1
    clamped = np.clip(thr, lo_i, hi_i)
    var.data = clamped.ravel()
    set_type(layer, "thresholds_t", Range(lo_i, hi_i, 0).to_type())
    set_type(layer, "signs_t", FixedType(True, 2, 2))
    out = Range(layer.get_attr("out_lo"), layer.get_attr("out_hi"), 0)
    set_type(layer, "result_t", out.to_type())
    return out


def apply_thresholds(x: np.ndarray, thresholds: np.ndarray, signs: np.ndarray, out_lo: int, out_step: int):
    """What the C++ computes: out_lo + out_step * #{k : sign_c * x >= T_ck}, channel c on the last axis."""
    signs = np.asarray(signs, dtype=np.float64).ravel()
    thr = np.asarray(thresholds, dtype=np.float64).reshape(len(signs), -1)
    v = np.asarray(x, dtype=np.float64) * signs
    return out_lo + out_step * np.sum(v[..., None] >= thr, axis=-1).astype(np.float64)


def _qonnx_op():
    """The node for qonnx's executor, so a hardware graph with thresholds can be run layer by layer (tracing)."""
    from qonnx.custom_op.base import CustomOp

    class Jpq2hwThreshold(CustomOp):
        def get_nodeattr_types(self):
            return {"out_lo": ("i", True, 0), "out_hi": ("i", True, 0), "out_step": ("i", False, 1)}

        def _tensor(self, name):
            return numpy_helper.to_array(next(a.t for a in self.onnx_node.attribute if a.name == name))

        def make_shape_compatible_op(self, model):
            return self.make_const_shape_op(model.get_tensor_shape(self.onnx_node.input[0]))

        def infer_node_datatype(self, model):
            from qonnx.core.datatype import DataType

            model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

        def execute_node(self, context, graph):
            y = apply_thresholds(context[self.onnx_node.input[0]], self._tensor("thresholds"), self._tensor("signs"),
                                 self.get_nodeattr("out_lo"), self.get_nodeattr("out_step"))
            context[self.onnx_node.output[0]] = y.astype(np.float32)

        def verify_node(self):
            return []

    return Jpq2hwThreshold


def register() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    import hls4ml
    from hls4ml.converters.onnx_to_hls import register_onnx_layer_handler

    from jpq2hw.convert import exact_precision

    layer_cls = _layer_class()
    hls4ml.model.layers.register_layer(CLASS_NAME, layer_cls)
    register_onnx_layer_handler(CLASS_NAME, _parse_onnx)
    config_t, call_t = _templates(layer_cls)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        backend.register_template(config_t)
        backend.register_template(call_t)
        backend.register_source(TEMPLATES / "hls" / HEADER)
    exact_precision.register_rule(CLASS_NAME, exact_rule)
    from qonnx.custom_op.registry import add_op_to_domain

    from jpq2hw.ops import THRESHOLD_DOMAIN

    add_op_to_domain(THRESHOLD_DOMAIN, _qonnx_op())
    _REGISTERED = True
