"""Entry for `jpq2hw compress`: a small stereo network on seeded synthetic stereo pairs (jpq2hw.data.stereo).

Input: left and right grayscale images stacked as 2 channels, [N, 2, 24, 48], pixels in [0, 1].
Output: disparity [N, 1, 24, 48] in pixels (argmax over D = 12 disparities) in eval mode; per-disparity
scores [N, 12, 24, 48] in training mode (for the loss over disparity bins).

    shared features   Siamese(Conv 1->F, 3x3) ReLU, Siamese(Conv F->F, 3x3) signed quantizer   (same weights on L and R)
    cost volume       correlation over D disparities: cost[d] = sum_f FL[f, x] * FR[f, x - d]   -> signed quantizer
    aggregation       Conv D->A, ReLU, Conv A->A, ReLU, Conv A->D   (2D convs over the volume, D as channels)
    regression        argmax over D (soft labels during training)

F = 12, A = 16 (see README.md for why these sizes).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from jpq2hw.compress.qmodules import QuantAct
from jpq2hw.compress.stereo import CostVolume, DisparityArgmax, Siamese, soft_bin_loss  # noqa: F401
from jpq2hw.data.stereo import StereoConfig, d1, epe, make_split

HEIGHT, WIDTH, MAX_DISP = 24, 48, 12
DATA = StereoConfig(height=HEIGHT, width=WIDTH, max_disp=MAX_DISP)
N_TRAIN, N_VAL, N_TEST = 1000, 100, 200
FEATURES, AGG, SIGNED = 12, 16, True


class StereoNet(nn.Module):
    def __init__(self, features: int = FEATURES, agg: int = AGG, max_disp: int = MAX_DISP, signed: bool = SIGNED):
        super().__init__()
        # signed: the matching features and the correlation are signed 8-bit (a quantizer without ReLU; identity
        # while float), so a mismatch correlates negatively. ReLU features are all >= 0, and their correlation is
        # dominated by the feature energy: training then sat at the "predict the median" plateau longer.
        act = (lambda: QuantAct(8, signed=True, relu=False)) if signed else nn.ReLU
        self.features = nn.Sequential(
            Siamese(nn.Conv2d(1, features, 3, padding=1)), nn.ReLU(),
            Siamese(nn.Conv2d(features, features, 3, padding=1)), act(),
        )
        self.cost = CostVolume(max_disp)
        self.cost_act = act()  # marks the cost volume's quantizer
        self.aggregate = nn.Sequential(
            nn.Conv2d(max_disp, agg, 3, padding=1), nn.ReLU(),
            nn.Conv2d(agg, agg, 3, padding=1), nn.ReLU(),
            nn.Conv2d(agg, max_disp, 3, padding=1),
        )
        self.regress = DisparityArgmax()

    def forward(self, x):
        return self.regress(self.aggregate(self.cost_act(self.cost(self.features(x)))))


def tensors(split: str, n: int):
    s = make_split(split, n, DATA)
    return torch.tensor(s["image"]), torch.tensor(s["disparity"]), torch.tensor(s["visible"])


@torch.no_grad()
def predict(model, images: torch.Tensor, batch: int = 100) -> np.ndarray:
    model.eval()
    return torch.cat([model(images[i:i + batch]) for i in range(0, len(images), batch)])[:, 0].numpy()


def evaluate(model, images, disparity, visible=None) -> dict:
    pred = predict(model, images)
    gt = disparity.numpy()
    return {"epe": epe(pred, gt), "d1": d1(pred, gt)}


def make(batch_size: int = 16, seed: int = 0, n_train: int = N_TRAIN):
    torch.manual_seed(seed)
    x_train, y_train, _ = tensors("train", n_train)
    x_val, y_val, _ = tensors("val", N_VAL)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True)
    return {
        "model": StereoNet(),
        "train_loader": loader,
        # compress keeps the highest value: higher is better, so the negative EPE
        "val_fn": lambda model: -evaluate(model, x_val, y_val)["epe"],
        "example_input": x_val[:1],
        "loss_fn": soft_bin_loss,
    }


OUT = __import__("pathlib").Path(__file__).resolve().parent / "out"


def make_trained(**kwargs):
    """`make()` with the float weights train.py saved in out/float.pt (the compress config then has pretrain_epochs: 0)."""
    entry = make(**kwargs)
    entry["model"].load_state_dict(torch.load(OUT / "float.pt"))
    return entry


def load_compressed(checkpoint_dir, config=None):
    """The compressed (quantized, masked) torch model from a `jpq2hw compress` checkpoint."""
    from jpq2hw.compress.config import CompressConfig
    from jpq2hw.compress.qmodules import prepare_model, set_quant_enabled

    payload = torch.load(__import__("pathlib").Path(checkpoint_dir) / "checkpoint.pt", weights_only=False)
    cfg = config or CompressConfig.from_dict({k: v for k, v in payload["config"].items() if v is not None})
    model = prepare_model(StereoNet(), cfg)
    set_quant_enabled(model, payload["quantized"])
    model.load_state_dict(payload["model"])
    model.eval()
    return model
