"""What pruning leaves per output channel: recorded after every step, a dead channel refused by name, the
per-channel floor and the layer-adaptive (LAMP) ranking that prevent it."""

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from jpq2hw.compress import CompressConfig, compress
from jpq2hw.compress.taylor import normalize_lamp, select_masks
from jpq2hw.errors import JpqError

TINY = dict(prune_steps=1, epochs_per_step=1, qat_epochs=1, score_batches=2, calibration_batches=2,
            regrow_interval=2, lr=1e-2, weight_bits=4, act_bits=8, finetune="masked")


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 4, generator=g)
    y = (x[:, 0] > x[:, 1]).long()
    return DataLoader(TensorDataset(x, y), batch_size=16)


def net_with_a_weak_class():
    """A last layer whose class 2 has weights 1000x smaller than the others: a global ranking empties it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        model[2].weight[2] *= 1e-3
    return model


def test_dead_output_channel_is_an_error_naming_layer_and_channel():
    cfg = CompressConfig.for_method("magnitude", target_sparsity=0.6, min_kept_per_channel=0, exclude=["0"], **TINY)
    with pytest.raises(JpqError) as err:
        compress(net_with_a_weak_class(), data(), None, cfg)
    message = str(err.value)
    assert "\n" not in message
    assert "layer '2'" in message and "(channels 2)" in message and "allow_dead_channels" in message


def test_allowed_by_name_and_recorded_in_history():
    cfg = CompressConfig.for_method("magnitude", target_sparsity=0.6, min_kept_per_channel=0,
                                    allow_dead_channels=["2"], exclude=["0"], **TINY)
    _, history = compress(net_with_a_weak_class(), data(), None, cfg)
    last = history[-1]["layers"]["2"]
    assert last["dead_channels"] == [2] and last["kept_per_channel"][2] == 0
    assert sum(last["kept_per_channel"]) == last["kept"]


def test_the_default_floor_keeps_every_channel():
    cfg = CompressConfig.for_method("magnitude", target_sparsity=0.6, **TINY)
    _, history = compress(net_with_a_weak_class(), data(), None, cfg)
    for record in history:
        for info in record["layers"].values():
            assert info["dead_channels"] == [] and min(info["kept_per_channel"]) >= 1
    assert history[-1]["sparsity"] == pytest.approx(0.6, abs=0.03)


def test_unknown_layer_in_allow_dead_channels_is_refused():
    cfg = CompressConfig.for_method("joint", allow_dead_channels=["nope"], **TINY)
    with pytest.raises(JpqError, match="allow_dead_channels: no layer named 'nope'"):
        compress(net_with_a_weak_class(), data(), None, cfg)


def test_lamp_gives_each_layer_its_best_weight_and_does_not_starve_big_layers():
    torch.manual_seed(0)
    # equal scores: L2 normalisation puts each of the big layer's weights 10x below the small layer's
    big, small = 1 + 1e-3 * torch.rand(10000), 1 + 1e-3 * torch.rand(100)
    lamp = normalize_lamp({"big": big, "small": small})
    assert lamp["small"].max() == pytest.approx(1.0) and lamp["big"].max() == pytest.approx(1.0)
    l2 = select_masks({"big": big, "small": small}, 0.99)
    adaptive = select_masks({"big": big, "small": small}, 0.99, normalization="lamp")
    assert l2["big"].sum() <= 1 and l2["small"].sum() == 100  # the big layer keeps 1 weight in 10,000
    assert adaptive["big"].sum() >= 40 and adaptive["small"].sum() >= 40
    assert l2["big"].sum() + l2["small"].sum() == adaptive["big"].sum() + adaptive["small"].sum() == 101


def test_distillation_and_cosine_schedule_train_and_validate_their_options():
    cfg = CompressConfig.for_method("joint", target_sparsity=0.5, distill=0.5, distill_temperature=2.0,
                                    lr_schedule="cosine", **TINY)
    model, history = compress(net_with_a_weak_class(), data(), None, cfg)
    assert history[-1]["sparsity"] == pytest.approx(0.5, abs=0.05)
    for bad, match in ((dict(distill=1.5), "distill: 1.5 must be in"), (dict(lr_schedule="step"), "lr_schedule"),
                       (dict(distill_temperature=0), "distill_temperature")):
        with pytest.raises(JpqError, match=match):
            CompressConfig(**bad)


def test_regrow_restores_an_emptied_channel_without_changing_the_layers_count():
    from jpq2hw.compress.taylor import regrow_masks

    torch.manual_seed(0)
    mask = torch.zeros(4, 9)
    mask[0, :6] = mask[1, :6] = 1  # channels 2 and 3 empty
    out = regrow_masks({"l": mask}, {"l": torch.rand(4, 9)}, 0.0, 1, {"l": 0})["l"]
    assert out.sum() == mask.sum() and (out.sum(1) >= 1).all()
    assert regrow_masks({"l": mask}, {"l": torch.rand(4, 9)}, 0.0, 0)["l"].sum(1).tolist() == [6, 6, 0, 0]
