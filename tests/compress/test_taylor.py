"""Taylor score against a hand computation; mask selection; schedules."""

import pytest
import torch
import torch.nn as nn

from jpq2hw.compress import CompressConfig, prepare_model
from jpq2hw.compress.schedule import sparsity_targets
from jpq2hw.compress.taylor import regrow_masks, select_masks, taylor_scores


def test_taylor_score_hand_computed():
    # y = w1*x1 + w2*x2, loss = mean((y - t)^2) / 2 per batch  ->  dL/dw_j = mean((y - t) * x_j)
    model = prepare_model(nn.Linear(2, 1, bias=False), CompressConfig())
    with torch.no_grad():
        model.net.get_submodule("0").weight.copy_(torch.tensor([[2.0, -1.0]]))
    batches = [(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0], [1.0]])),   # residuals 1, -2
               (torch.tensor([[1.0, 1.0]]), torch.tensor([[3.0]]))]                      # residual -2
    loss = lambda out, t: ((out - t) ** 2).mean() / 2  # noqa: E731
    scores = taylor_scores(model, batches, loss, batches=2)["net.0"]
    # batch 1: g = [(1*1 + -2*0)/2, (1*0 + -2*1)/2] = [0.5, -1];   |w*g| = [1.0, 1.0]
    # batch 2: g = [-2, -2];                                      |w*g| = [4.0, 2.0]
    assert torch.allclose(scores, torch.tensor([[5.0, 3.0]]))
    # absolute value per batch, then summed: the signed sum would give |1 - 4| = 3 for w1, not 5
    assert model.net.get_submodule("0").weight.grad is None  # scoring leaves no gradient behind


def test_select_masks_normalises_per_layer_and_keeps_a_minimum():
    scores = {"a": torch.tensor([3.0, 4.0, 0.0, 0.0]),       # L2 norm 5 -> [0.6, 0.8, 0, 0]
              "b": torch.tensor([100.0, 1.0, 1.0, 1.0])}    # norm ~100 -> [~1, 0.01, ...]
    masks = select_masks(scores, sparsity=0.625, min_kept_per_layer=0)   # keep 3 of 8
    assert masks["a"].tolist() == [1, 1, 0, 0] and masks["b"].tolist() == [1, 0, 0, 0]
    masks = select_masks({"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.0, 0.0, 0.0, 5.0])}, 0.9, 1)
    assert masks["a"].sum() == 1 and masks["b"].tolist() == [0, 0, 0, 1]


def test_regrow_swaps_inside_a_layer_and_holds_the_count():
    current = {"a": torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])}
    scores = {"a": torch.tensor([0.1, 5.0, 5.0, 0.2, 9.0, 8.0, 0.0, 0.0, 0.0, 0.0])}
    out = regrow_masks(current, scores, max_swap_fraction=0.25)            # 1 swap allowed
    assert out["a"].tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    out = regrow_masks(current, scores, max_swap_fraction=1.0)
    assert out["a"].tolist() == [0, 1, 1, 0, 1, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("kind", ["cubic", "stepwise"])
def test_schedules_are_monotone_and_end_at_the_target(kind):
    targets = sparsity_targets(kind, 0.98, 5)
    assert targets == sorted(targets) and targets[-1] == pytest.approx(0.98) and targets[0] > 0
    if kind == "cubic":
        assert targets[0] > 0.98 / 5  # front-loaded
