"""Stereo building blocks that `jpq2hw compress` traces, compresses and exports.

The network takes ONE input, the left and right images stacked as channels ([N, 2*C, H, W]: left
channels first), so that the build's single-input pipeline applies. Three modules:

- `Siamese(conv)`: the same convolution applied to the left half and to the right half of the
  channels, [L | R] -> [conv(L) | conv(R)] (shared weights: one weight tensor is pruned and
  quantized). Exported as ONE Conv whose weight is block-diagonal (the shared kernel twice, zeros
  across views), which is exactly the same function.
- `CostVolume(max_disp)`: correlation cost volume of features [FL | FR] over D disparities,
  cost[:, d, y, x] = sum_f FL[f, y, x] * FR[f, y, x - d] (0 where x - d < 0). Exported as the
  small-op pattern Slice (views) -> per d: Slice + Pad (shift), Mul, ReduceSum -> Concat, which
  onnxruntime runs as is and the build's stereo pattern pass (jpq2hw/extensions/stereo.py) turns into
  one hardware layer.
- `DisparityArgmax()`: disparity regression. Training mode returns the per-disparity scores (logits,
  for a loss over disparity bins); eval mode and the export return argmax over disparities as a float
  [N, 1, H, W] (ONNX ArgMax(axis=1, keepdims=1) + Cast), exact in fixed point (first maximum wins,
  as ONNX's ArgMax with select_last_index=0).

`soft_bin_loss` is the training loss that argmax needs: a cross-entropy over disparity bins.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Siamese(nn.Module):
    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        c = x.shape[1] // 2
        return torch.cat([self.conv(x[:, :c]), self.conv(x[:, c:])], 1)


def cost_volume(x: torch.Tensor, max_disp: int) -> torch.Tensor:
    c = x.shape[1] // 2
    left, right = x[:, :c], x[:, c:]
    width = x.shape[-1]
    costs = []
    for d in range(max_disp):
        shifted = right if d == 0 else F.pad(right[..., : width - d], (d, 0))
        costs.append((left * shifted).sum(1, keepdim=True))
    return torch.cat(costs, 1)


class CostVolume(nn.Module):
    def __init__(self, max_disp: int):
        super().__init__()
        self.max_disp = max_disp

    def forward(self, x):
        return cost_volume(x, self.max_disp)

    def extra_repr(self):
        return f"max_disp={self.max_disp}"


class DisparityArgmax(nn.Module):
    def forward(self, scores):
        if self.training:
            return scores
        return scores.argmax(1, keepdim=True).to(scores.dtype)


def soft_bin_loss(scores: torch.Tensor, disparity: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the true disparity spread linearly over its two neighbouring bins."""
    d = disparity.clamp(0, scores.shape[1] - 1)
    lo = d.floor().long()
    hi = (lo + 1).clamp(max=scores.shape[1] - 1)
    w_hi = (d - lo.float()).unsqueeze(1)
    target = torch.zeros_like(scores)
    target.scatter_(1, lo.unsqueeze(1), 1 - w_hi)
    target.scatter_add_(1, hi.unsqueeze(1), w_hi)
    return -(target * F.log_softmax(scores, 1)).sum(1).mean()


STEREO_MODULES = (Siamese, CostVolume, DisparityArgmax)
