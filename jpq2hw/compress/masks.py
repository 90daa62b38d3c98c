"""Masks: which weights are kept, and keeping pruned weights at exactly zero.

The masks live in each layer's `weight_mask` buffer (so they travel with state_dict checkpoints).
In masked fine-tuning three things keep a pruned weight at 0: the forward multiplies by the mask
(so its gradient is 0), `enforce` zeroes the stored weight after every optimizer step (weight
decay or momentum cannot move it), and `mask_optimizer_state` zeroes the optimizer's per-weight
state (Adam's moments) so a later regrow does not start from a stale momentum."""

from __future__ import annotations

import torch

from jpq2hw.compress.qmodules import weight_layers


@torch.no_grad()
def enforce(model) -> None:
    for layer in weight_layers(model).values():
        layer.weight.mul_(layer.weight_mask)


@torch.no_grad()
def mask_optimizer_state(model, optimizer) -> None:
    for layer in weight_layers(model).values():
        state = optimizer.state.get(layer.weight, {})
        for value in state.values():
            if torch.is_tensor(value) and value.shape == layer.weight.shape:
                value.mul_(layer.weight_mask)


@torch.no_grad()
def set_masks(model, masks: dict[str, torch.Tensor]) -> None:
    layers = weight_layers(model)
    for name, mask in masks.items():
        layers[name].weight_mask.copy_(mask)


def get_masks(model) -> dict[str, torch.Tensor]:
    return {name: layer.weight_mask.clone() for name, layer in weight_layers(model).items()}


def sparsity(model) -> float:
    """Fraction of pruned weights over all weight layers (masks, not accidental zeros)."""
    total = kept = 0
    for layer in weight_layers(model).values():
        total += layer.weight_mask.numel()
        kept += int(layer.weight_mask.sum().item())
    return 1.0 - kept / total if total else 0.0


def layer_sparsity(model) -> dict[str, float]:
    return {name: 1.0 - layer.weight_mask.mean().item() for name, layer in weight_layers(model).items()}


@torch.no_grad()
def zero_regrown(model, optimizer, previous: dict[str, torch.Tensor]) -> None:
    """Weights that were pruned in `previous` and are kept now start again from 0 (weight and
    optimizer state)."""
    for name, layer in weight_layers(model).items():
        regrown = (previous[name] == 0) & (layer.weight_mask == 1)
        if regrown.any():
            layer.weight[regrown] = 0.0
            for value in optimizer.state.get(layer.weight, {}).values():
                if torch.is_tensor(value) and value.shape == layer.weight.shape:
                    value[regrown] = 0.0
