"""Every ONNX op jpq2hw accepts, one module per op or op family, each registering one OpRule (registry.py says
what a rule holds and who reads each part). Importing this package registers them all; the names below are
views of the registry, by what reads them. To add an op: docs/adding-an-op.md (a new module here is found and
registered by itself)."""

import pkgutil
from importlib import import_module

from jpq2hw.ops.quant import QUANT_DOMAINS
from jpq2hw.ops.registry import INTERNAL_OPS, OPS, OpRule, any_rule, register, register_internal, rule
from jpq2hw.ops.threshold import THRESHOLD_DOMAIN, THRESHOLD_OP

HELPER_MODULES = {"registry", "affine"}  # the modules of this package that hold no op
# every other module of this package registers its ops when imported: adding one is adding an op
OP_MODULES = tuple(import_module(f"{__name__}.{name}")
                   for name in sorted(m.name for m in pkgutil.iter_modules(__path__)) if name not in HELPER_MODULES)

SUPPORTED_OPS = {name: op.becomes for name, op in OPS.items() if op.becomes}
HOST_TAIL_OPS = tuple(name for name, op in OPS.items() if op.host == "tail")
HOST_OPS = {name: ("host tail" if op.host == "tail" else "layout") for name, op in OPS.items() if op.host}
CONSTANT_OPS = {name for name, op in OPS.items() if op.constant}
LAYOUT_OPS = tuple(name for name, op in OPS.items() if op.layout)
WIRING_OPS = LAYOUT_OPS + tuple(name for name, op in OPS.items() if op.host == "layout")  # cost no hardware
TYPE_PRESERVING_OPS = tuple(name for name, op in OPS.items() if op.type_preserving)
WEIGHT_OPS = tuple(name for name, op in OPS.items() if op.weights)
QUANTIZER_OPS = tuple(name for name, op in OPS.items() if op.quantizer)
RESHAPE_OPS = tuple(name for name, op in OPS.items() if op.reshape)
HOST_ARITH_OPS = tuple(name for name, op in OPS.items() if op.host_arith)
RTL_OPS = {name: op.rtl for name, op in OPS.items() if op.rtl}
ARITY = {name: op.inputs for name, op in OPS.items() if op.inputs and name != "Quant"}  # Quant: its own message

# Ops that are not hardware on their own but that a registered pattern pass (jpq2hw/extensions/) rewrites into a
# custom layer in the hardware graph, e.g. the Slice/Mul/ReduceSum/Concat of a stereo cost volume.
# op type -> name of the pattern that consumes it
PATTERN_OPS: dict[str, str] = {}


def register_pattern_ops(ops, pattern: str) -> None:
    for op in ops:
        PATTERN_OPS.setdefault(op, pattern)


def accepted(op_type: str) -> bool:
    """The op is registered or part of a registered pattern."""
    return op_type in OPS or op_type in PATTERN_OPS
