"""Importance scores and global mask selection.

First-order Taylor score (the estimate of the loss change when weight w_i is set to zero):

    L(w with w_i = 0) - L(w) ~= -w_i * dL/dw_i      ->   S_i = sum_b | w_i * dL_b/dw_i |

accumulated over mini-batches b: the absolute value is taken per batch, then summed (so gradients
of opposite sign in different batches do not cancel). Here dL/dw_i is the gradient with respect to
the weight the network actually uses (the effective weight); for a pruned weight in regrow mode it
is the gradient its latent value would see if restored, so the same formula ranks both directions.
In quantization-aware mode w_i is the quantized weight Q(w_i).

Layers differ in size and gradient scale, so scores are compared across layers after per-layer L2
normalisation, S_i / ||S_layer||_2 (Molchanov et al. 2017). A global top-k on the normalised scores
then gives each layer its own sparsity: large layers (small normalised scores) are pruned harder.
Magnitude pruning uses S_i = |w_i| with the same normalisation and selection, so only the score
differs between the two.
"""

from __future__ import annotations

import torch

from jpq2hw.compress.qmodules import weight_layers
from jpq2hw.compress.quantizers import quantize


def _scored_weight(layer, quantized: bool) -> torch.Tensor:
    weight = layer.weight.detach()
    if quantized:
        # the latent value (pruned ones included) on the layer's current quantization grid
        return quantize(weight, layer.current_weight_scale(), layer.weight_bits, True, layer.weight_narrow)
    return weight


class TaylorAccumulator:
    """Call `add()` after each `loss.backward()`; `scores()` gives the per-layer sums."""

    def __init__(self, model, quantized: bool = False):
        self.layers = weight_layers(model)
        self.quantized = quantized
        self.sums = {name: torch.zeros_like(layer.weight) for name, layer in self.layers.items()}
        self.batches = 0

    @torch.no_grad()
    def add(self) -> None:
        for name, layer in self.layers.items():
            if layer.weight.grad is not None:
                self.sums[name] += (_scored_weight(layer, self.quantized) * layer.weight.grad).abs()
        self.batches += 1

    def scores(self) -> dict[str, torch.Tensor]:
        return {name: s.clone() for name, s in self.sums.items()}


def taylor_scores(model, loader, loss_fn, batches: int, quantized: bool = False) -> dict[str, torch.Tensor]:
    """Accumulate the Taylor score over `batches` mini-batches without changing the weights."""
    acc = TaylorAccumulator(model, quantized)
    was_training = model.training
    model.train()
    params = [layer.weight for layer in acc.layers.values()]
    saved_grads = [p.grad for p in params]
    seen = 0
    while seen < batches:
        for x, y in loader:
            model.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            acc.add()
            seen += 1
            if seen >= batches:
                break
        if seen == 0:
            raise ValueError("the training loader yielded no batches")
    model.zero_grad(set_to_none=True)
    for p, g in zip(params, saved_grads):
        p.grad = g
    model.train(was_training)
    return acc.scores()


def magnitude_scores(model, quantized: bool = False) -> dict[str, torch.Tensor]:
    return {name: (_scored_weight(layer, quantized) * layer.weight_mask).abs()
            for name, layer in weight_layers(model).items()}


def normalize(scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: s / s.norm().clamp_min(1e-30) for name, s in scores.items()}


def select_masks(scores: dict[str, torch.Tensor], sparsity: float, min_kept_per_layer: int = 0) -> dict[str, torch.Tensor]:
    """Keep the round((1 - sparsity) * N) highest normalised scores over all layers, but at least
    `min_kept_per_layer` in each layer (so no layer is cut off entirely)."""
    normed = normalize(scores)
    names = list(normed)
    flat = torch.cat([normed[n].reshape(-1) for n in names])
    boosted = flat.clone()
    offset = 0
    for n in names:
        size = normed[n].numel()
        k = min(min_kept_per_layer, size)
        if k:
            top = torch.topk(flat[offset:offset + size], k).indices + offset
            boosted[top] = float("inf")
        offset += size
    keep = max(int(round((1.0 - sparsity) * flat.numel())), 0)
    keep = max(keep, int(torch.isinf(boosted).sum().item()))
    mask_flat = torch.zeros_like(flat)
    if keep:
        mask_flat[torch.topk(boosted, keep).indices] = 1.0
    masks, offset = {}, 0
    for n in names:
        size = normed[n].numel()
        masks[n] = mask_flat[offset:offset + size].reshape(normed[n].shape)
        offset += size
    return masks


def select_layer_masks(scores: dict[str, torch.Tensor], sparsity: float, min_kept_per_layer: int = 0,
                       layer_sparsity: dict[str, float] | None = None, exclude=(), criterion: str = "global",
                       fraction: float = 1.0) -> dict[str, torch.Tensor]:
    """Masks with per-layer control: `exclude`d layers keep every weight; a layer in `layer_sparsity` is pruned
    to its own target (times `fraction`, the schedule's progress) by its own scores; the other layers are
    pruned to `sparsity` together, by the normalised scores compared across layers ('global', the paper's
    criterion) or each layer to `sparsity` on its own ('per_layer')."""
    layer_sparsity = layer_sparsity or {}
    masks = {n: torch.ones_like(s) for n, s in scores.items() if n in exclude}
    for n, target in layer_sparsity.items():
        masks.update(select_masks({n: scores[n]}, target * fraction, min_kept_per_layer))
    rest = {n: s for n, s in scores.items() if n not in masks}
    if criterion == "per_layer":
        for n, s in rest.items():
            masks.update(select_masks({n: s}, sparsity, min_kept_per_layer))
    elif rest:
        masks.update(select_masks(rest, sparsity, min_kept_per_layer))
    return {n: masks[n] for n in scores}


def regrow_masks(current: dict[str, torch.Tensor], scores: dict[str, torch.Tensor],
                 max_swap_fraction: float) -> dict[str, torch.Tensor]:
    """Dynamic sparse update inside each layer: the kept set moves towards the layer's top scores,
    swapping at most `max_swap_fraction` of its kept weights (the lowest-scoring kept ones out, the
    highest-scoring pruned ones in). Each layer keeps its number of weights, so the sparsity and
    the per-layer allocation chosen by pruning hold, and one update cannot replace the network."""
    out = {}
    for name, mask in current.items():
        cur, score = mask.reshape(-1), scores[name].reshape(-1)
        kept = int(cur.sum().item())
        target = torch.zeros_like(cur)
        if kept:
            target[torch.topk(score, kept).indices] = 1.0
        grow = ((cur == 0) & (target == 1)).nonzero().reshape(-1)
        drop = ((cur == 1) & (target == 0)).nonzero().reshape(-1)
        k = min(len(grow), len(drop), int(max_swap_fraction * kept))
        new = cur.clone()
        if k > 0:
            new[grow[torch.topk(score[grow], k).indices]] = 1.0
            new[drop[torch.topk(score[drop], k, largest=False).indices]] = 0.0
        out[name] = new.reshape(mask.shape)
    return out
