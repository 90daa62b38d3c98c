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


def random_scores(model) -> dict[str, torch.Tensor]:
    """The floor every criterion must beat: a uniformly random ranking (seeded by the run's torch RNG)."""
    return {name: torch.rand_like(layer.weight) for name, layer in weight_layers(model).items()}


def normalize(scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: s / s.norm().clamp_min(1e-30) for name, s in scores.items()}


def normalize_lamp(scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Layer-adaptive normalisation (LAMP, Lee et al. 2021) of any non-negative score: each score squared over
    the sum of the squares of the scores in its layer that are not smaller. A layer's best weight gets 1, so no
    layer is emptied by a global top-k, and small layers (whose every weight matters) are pruned less."""
    out = {}
    for name, s in scores.items():
        flat = s.reshape(-1).double() ** 2
        order = torch.argsort(flat)  # ascending
        tail = torch.flip(torch.cumsum(torch.flip(flat[order], [0]), 0), [0])  # sum over the not-smaller ones
        lamp = torch.empty_like(flat)
        lamp[order] = flat[order] / tail.clamp_min(1e-300)
        out[name] = lamp.reshape(s.shape).to(s.dtype)
    return out


def output_channel_dim(layer) -> int:
    """The weight dimension that indexes output channels (ConvTranspose keeps them second)."""
    return 1 if isinstance(layer, torch.nn.ConvTranspose2d) else 0


def _per_channel_top(score: torch.Tensor, dim: int, k: int) -> torch.Tensor:
    """A 0/1 tensor with the k highest scores of each output channel (slice along `dim`) set."""
    moved = score.movedim(dim, 0)
    flat = moved.reshape(moved.shape[0], -1)
    k = min(k, flat.shape[1])
    top = torch.zeros_like(flat)
    if k:
        top.scatter_(1, torch.topk(flat, k, dim=1).indices, 1.0)
    return top.reshape(moved.shape).movedim(0, dim)


def select_masks(scores: dict[str, torch.Tensor], sparsity: float, min_kept_per_layer: int = 0,
                 normalization: str = "l2", min_kept_per_channel: int = 0,
                 channel_dims: dict[str, int] | None = None) -> dict[str, torch.Tensor]:
    """Keep the round((1 - sparsity) * N) highest normalised scores over all layers, but at least
    `min_kept_per_layer` in each layer (so no layer is cut off entirely) and `min_kept_per_channel` in each
    output channel (so no channel, e.g. a disparity bin of the last layer, is left without a weight).
    `normalization`: 'l2' (score / the layer's L2 norm, the paper's) or 'lamp' (normalize_lamp)."""
    normed = normalize_lamp(scores) if normalization == "lamp" else normalize(scores)
    channel_dims = channel_dims or {}
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
        if min_kept_per_channel:
            floor = _per_channel_top(normed[n], channel_dims.get(n, 0), min_kept_per_channel).reshape(-1) > 0
            boosted[offset:offset + size][floor] = float("inf")
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
                       fraction: float = 1.0, min_kept_per_channel: int = 0,
                       channel_dims: dict[str, int] | None = None) -> dict[str, torch.Tensor]:
    """Masks with per-layer control: `exclude`d layers keep every weight; a layer in `layer_sparsity` is pruned
    to its own target (times `fraction`, the schedule's progress) by its own scores; the other layers are
    pruned to `sparsity` together, by the normalised scores compared across layers ('global', the paper's
    criterion; 'lamp', the layer-adaptive normalisation) or each layer to `sparsity` on its own ('per_layer')."""
    layer_sparsity = layer_sparsity or {}
    floors = {"min_kept_per_layer": min_kept_per_layer, "min_kept_per_channel": min_kept_per_channel,
              "channel_dims": channel_dims}
    masks = {n: torch.ones_like(s) for n, s in scores.items() if n in exclude}
    for n, target in layer_sparsity.items():
        masks.update(select_masks({n: scores[n]}, target * fraction, **floors))
    rest = {n: s for n, s in scores.items() if n not in masks}
    if criterion == "per_layer":
        for n, s in rest.items():
            masks.update(select_masks({n: s}, sparsity, **floors))
    elif rest:
        masks.update(select_masks(rest, sparsity, normalization="lamp" if criterion == "lamp" else "l2", **floors))
    return {n: masks[n] for n in scores}


def _restore_channel_floor(mask: torch.Tensor, score: torch.Tensor, dim: int, floor: int) -> torch.Tensor:
    """`mask` with every output channel holding at least `floor` weights (each short channel's best ones come
    back) and the layer's count unchanged (as many of the lowest-scoring weights of channels above the floor go)."""
    short = mask.movedim(dim, 0).reshape(mask.shape[dim], -1).sum(1) < floor
    if not short.any():
        return mask
    view = [-1 if d == dim else 1 for d in range(mask.dim())]
    restored = torch.maximum(mask, _per_channel_top(score * 1.0, dim, floor) * short.float().reshape(view))
    excess = int((restored.sum() - mask.sum()).item())
    per_channel = restored.movedim(dim, 0).reshape(mask.shape[dim], -1).sum(1)
    droppable = (restored > 0) & (restored > mask).logical_not() & (per_channel > floor).reshape(view)
    candidates = droppable.reshape(-1).nonzero().reshape(-1)
    if excess > 0 and len(candidates):
        # one at a time in score order would be exact; dropping the lowest `excess` can take a channel to
        # floor - k only when that channel held the lowest scores, which the check after the run reports
        order = torch.argsort(score.reshape(-1)[candidates])[:excess]
        restored = restored.reshape(-1).clone()
        restored[candidates[order]] = 0.0
        restored = restored.reshape(mask.shape)
    return restored


def regrow_masks(current: dict[str, torch.Tensor], scores: dict[str, torch.Tensor],
                 max_swap_fraction: float, min_kept_per_channel: int = 0,
                 channel_dims: dict[str, int] | None = None) -> dict[str, torch.Tensor]:
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
        new = new.reshape(mask.shape)
        if min_kept_per_channel:  # a swap may not empty an output channel: its best weight comes back
            new = _restore_channel_floor(new, scores[name], (channel_dims or {}).get(name, 0), min_kept_per_channel)
        out[name] = new
    return out
