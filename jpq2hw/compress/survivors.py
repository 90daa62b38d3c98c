"""What pruning left: kept weights per layer and per output channel, and the dead-channel check.

An output channel with no weight left computes a constant (its bias): for a hidden layer that is a lost
feature, for the last layer a class or disparity bin that can no longer depend on the input. A global ranking
can do this silently at extreme sparsity, so compress records the survivors after every step and refuses a
dead channel unless the config allows it for that layer by name (`allow_dead_channels`)."""

from __future__ import annotations

import torch

from jpq2hw.compress.qmodules import weight_layers
from jpq2hw.compress.taylor import output_channel_dim
from jpq2hw.errors import JpqError


def channel_dims(model) -> dict[str, int]:
    return {name: output_channel_dim(layer) for name, layer in weight_layers(model).items()}


def _user_name(name: str) -> str:
    return name[4:] if name.startswith("net.") else name  # the config's names are the user's (no `net.`)


@torch.no_grad()
def survivors(model) -> dict[str, dict]:
    """{layer: {weights, kept, nonzero, sparsity, out_channels, kept_per_channel, nonzero_per_channel,
    dead_channels}} by the user's names (kept: by the mask; nonzero: in the quantized, masked weights)."""
    out = {}
    for name, layer in weight_layers(model).items():
        dim = output_channel_dim(layer)
        mask = layer.weight_mask

        def per_channel(t):
            return t.movedim(dim, 0).reshape(t.shape[dim], -1).sum(1).long().tolist()

        kept = per_channel(mask != 0)
        # what the exported model holds: kept by the mask and not rounded to 0 by the weight quantizer
        nonzero = per_channel((layer.effective_weight() != 0) & (mask != 0))
        latent = per_channel((layer.weight * mask) != 0)
        # dead: pruning left the channel no weight, or the quantizer rounded all its (nonzero) weights to 0;
        # a weight that is itself exactly 0 (a channel whose ReLU never fired) is not a compression effect
        dead = [c for c in range(len(kept)) if kept[c] == 0 or (nonzero[c] == 0 and latent[c] > 0)]
        out[_user_name(name)] = {
            "weights": mask.numel(), "kept": int(sum(kept)), "nonzero": int(sum(nonzero)),
            "sparsity": round(1.0 - sum(kept) / mask.numel(), 6),
            "out_channels": len(kept), "kept_per_channel": kept, "nonzero_per_channel": nonzero,
            "dead_channels": dead,
        }
    return out


def check_dead_channels(layers: dict[str, dict], allowed, step: str) -> None:
    """One-line error for the first layer of the result with an output channel left without weights (unless
    allowed)."""
    for name, info in layers.items():
        dead = info["dead_channels"]
        if dead and name not in allowed:
            shown = ", ".join(map(str, dead[:12])) + (", ..." if len(dead) > 12 else "")
            raise JpqError(f"compress: after its last step ({step}), layer '{name}' has {len(dead)} of {info['out_channels']} "
                           f"output channels with no weight left (channels {shown}): the network can no longer "
                           f"use them; set min_kept_per_channel >= 1 (the default), lower target_sparsity or "
                           f"layer_sparsity.{name}, or list '{name}' in allow_dead_channels to accept it")
