"""Fold each BatchNorm into the Conv2d/Linear right before it, before pruning (so the scores see the weights
the network really uses): with k = gamma / sqrt(running_var + eps),

    w' = w * k (per output channel),   b' = (b - running_mean) * k + beta.

The BatchNorm module is replaced by nn.Identity in the user's model. A BatchNorm that does not directly follow
such a layer (or whose layer also feeds something else) stays, and the start-up check names it."""

from __future__ import annotations

import torch
import torch.fx as fx
import torch.nn as nn

BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
FOLDABLE = (nn.Conv2d, nn.Linear)


def _set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


@torch.no_grad()
def fold_into(layer: nn.Module, bn: nn.Module) -> None:
    k = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps) if bn.affine else \
        1.0 / torch.sqrt(bn.running_var.double() + bn.eps)
    shift = bn.bias.double() if bn.affine else torch.zeros_like(k)
    w = layer.weight.double()
    layer.weight.copy_((w * k.reshape(-1, *([1] * (w.dim() - 1)))).to(layer.weight.dtype))
    bias = layer.bias.double() if layer.bias is not None else torch.zeros_like(k)
    new_bias = ((bias - bn.running_mean.double()) * k + shift).to(layer.weight.dtype)
    if layer.bias is None:
        layer.bias = nn.Parameter(new_bias)
    else:
        layer.bias.copy_(new_bias)


def fold_batchnorms(model: nn.Module) -> list[str]:
    """Fold in place; returns the names of the BatchNorms folded."""
    from jpq2hw.compress.graph import trace

    if not any(isinstance(m, BATCHNORMS) for m in model.modules()):
        return []
    gm = trace(model)
    modules = dict(model.named_modules())
    folded = []
    for node in gm.graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), BATCHNORMS):
            continue
        bn = modules[node.target]
        prev = node.args[0] if node.args else None
        if not isinstance(prev, fx.Node) or prev.op != "call_module" or len(prev.users) != 1:
            continue
        layer = modules.get(prev.target)
        if type(layer) not in FOLDABLE or bn.running_var is None or layer.weight.shape[0] != bn.num_features:
            continue
        if sum(1 for n in gm.graph.nodes if n.op == "call_module" and n.target == prev.target) != 1:
            continue  # a layer called twice cannot take one BatchNorm's scale
        fold_into(layer, bn)
        _set_module(model, node.target, nn.Identity())
        folded.append(node.target)
    return folded
