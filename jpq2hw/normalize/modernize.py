"""Bring the working copy to one modern form before any other pass sees it (the user's file is never changed).

- Quantizer domains: exporters wrote Quant in several domains over the years ("", "qonnx", "finn",
  "onnx.brevitas", ...). They all mean qonnx's Quant; give them qonnx's current domain so that the version
  converter does not take an empty-domain Quant for an ONNX op and every later pass finds them in one place.
- Opset: tf2onnx and PyTorch 1.x wrote opsets 9 and 11. Shape inference fails on some opset-9 graphs and
  onnxruntime has no float64 kernels for some opset-11 ops the float64 reference needs (Clip). onnx's own
  version converter lifts the graph to MIN_OPSET; newer files are left at their opset.
"""

from __future__ import annotations

import onnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from jpq2hw.errors import JpqError
from jpq2hw.ops import QUANT_DOMAINS  # the domains in which exporters wrote qonnx's quantizers

QONNX_DOMAIN = "qonnx.custom_op.general"
QUANTIZER_OPS = ("Quant", "BipolarQuant", "Trunc")
MIN_OPSET = 13  # Clip/Round/Reshape... with float64 kernels in onnxruntime; before the opset-18 Reduce* change
MIN_IR_VERSION = 7  # what opset 13 requires


def modernize(model: ModelWrapper, source: str) -> ModelWrapper:
    canonical_quant_domains(model)
    float_quant_parameters(model)
    model = upgrade_opset(model, source)
    onnx_domain_first(model)
    return model


def onnx_domain_first(model: ModelWrapper) -> None:
    """qonnx's passes read the ONNX opset from opset_import[0] (e.g. to execute a node while folding constants)."""
    imports = sorted(model.model.opset_import, key=lambda o: o.domain not in ("", "ai.onnx"))
    if list(imports) != list(model.model.opset_import):
        copies = [onnx.OperatorSetIdProto.FromString(o.SerializeToString()) for o in imports]
        del model.model.opset_import[:]
        model.model.opset_import.extend(copies)


def float_quant_parameters(model: ModelWrapper) -> None:
    """qonnx defines a quantizer's scale, zero point and bit width as float32; tf2onnx wrote int64 zero points
    and bit widths, which the float64 reference cannot add to a double tensor."""
    import numpy as np

    for node in model.graph.node:
        if node.op_type in QUANTIZER_OPS:
            for name in node.input[1:]:
                value = model.get_initializer(name)
                if value is not None and value.dtype != np.float32 and np.all(np.isfinite(value)):
                    model.set_initializer(name, np.asarray(value, dtype=np.float32))


def canonical_quant_domains(model: ModelWrapper) -> None:
    used = False
    for node in model.graph.node:
        if node.op_type in QUANTIZER_OPS and node.domain in QUANT_DOMAINS:
            node.domain = QONNX_DOMAIN
            used = True
    if used and not any(o.domain == QONNX_DOMAIN for o in model.model.opset_import):
        model.model.opset_import.append(helper.make_opsetid(QONNX_DOMAIN, 1))


def onnx_opset(model: ModelWrapper) -> int:
    return next((o.version for o in model.model.opset_import if o.domain in ("", "ai.onnx")), 0)


def upgrade_opset(model: ModelWrapper, source: str, target: int = MIN_OPSET) -> ModelWrapper:
    current = onnx_opset(model)
    if current >= target:
        return model
    from onnx import version_converter

    annotations = list(model.graph.quantization_annotation)
    try:
        converted = version_converter.convert_version(model.model, target)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise JpqError(f"{source}: onnx's version converter cannot lift the model from opset {current} to "
                       f"{target} ({msg})") from None
    converted.ir_version = max(converted.ir_version, MIN_IR_VERSION)
    if not converted.graph.quantization_annotation:  # keep finn_datatype annotations if the converter dropped them
        converted.graph.quantization_annotation.extend(annotations)
    return ModelWrapper(onnx.ModelProto.FromString(converted.SerializeToString()))
