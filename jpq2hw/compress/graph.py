"""The dataflow of a prepared model, via torch.fx, reduced to the operations export understands.

Used twice: to tell each weight layer which activation quantizer feeds it (its bias is quantized
on input_scale * weight_scale) and to write the QONNX graph. Shape-only operations (flatten,
max-pool) keep the quantization grid, so the feeding quantizer is looked up through them."""

from __future__ import annotations

import operator

import torch
import torch.fx as fx
import torch.nn as nn

from jpq2hw.compress.qmodules import WEIGHT_LAYERS, QuantAct
from jpq2hw.compress.stereo import STEREO_MODULES, Siamese
from jpq2hw.errors import JpqError

GRID_PRESERVING_MODULES = (nn.MaxPool2d, nn.Flatten, nn.Identity, nn.Dropout)
FLATTEN_FUNCTIONS = (torch.flatten,)


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, (QuantAct, *WEIGHT_LAYERS, *STEREO_MODULES)) or super().is_leaf_module(m, qualname)


def trace(model: nn.Module) -> fx.GraphModule:
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:
        raise JpqError(f"cannot trace the model with torch.fx (use nn.Modules, no data-dependent control flow): "
                       f"{str(exc).splitlines()[0]}") from None
    return fx.GraphModule(model, graph)


def is_flatten(node: fx.Node, modules: dict) -> bool:
    if node.op == "call_module":
        return isinstance(modules[node.target], nn.Flatten)
    if node.op == "call_function":
        return node.target in FLATTEN_FUNCTIONS
    return node.op == "call_method" and node.target == "flatten"


def passes_grid(node: fx.Node, modules: dict) -> bool:
    if node.op == "call_module":
        return isinstance(modules[node.target], GRID_PRESERVING_MODULES)
    if node.op == "call_function" and node.target is operator.getitem:
        return False
    return is_flatten(node, modules)


def bind_input_quantizers(model: nn.Module) -> None:
    """Record in every weight layer the QuantAct whose grid its input is on (or None)."""
    gm = trace(model)
    modules = dict(gm.named_modules())
    source: dict[fx.Node, QuantAct | None] = {}
    for node in gm.graph.nodes:
        feeding = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        if node.op == "call_module" and isinstance(modules[node.target], QuantAct):
            source[node] = modules[node.target]
        elif passes_grid(node, modules):
            source[node] = source.get(feeding)
        else:
            source[node] = None
        if node.op == "call_module" and isinstance(modules[node.target], WEIGHT_LAYERS):
            # gm shares its submodules with `model`
            modules[node.target]._input_quant[0] = source.get(feeding)
        if node.op == "call_module" and isinstance(modules[node.target], Siamese) \
                and isinstance(modules[node.target].conv, WEIGHT_LAYERS):
            modules[node.target].conv._input_quant[0] = source.get(feeding)
