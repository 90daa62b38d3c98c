"""Entry for `jpq2hw compress`: a fully convolutional stereo network for photo-textured scenes
(jpq2hw.data.stereo_scenes), trained on crops and exported at the full frame given by the config.

Input: left and right grayscale images stacked as 2 channels, [N, 2, H, W], pixels in [0, 1]; any H, W (the
export uses FRAME). Output: disparity [N, 1, H, W] in px (argmax over D) in eval mode, per-disparity scores
[N, D, H, W] in training mode.

    features     Siamese(Conv 1->F 3x3) ReLU, Siamese(Conv F->F 3x3) ReLU, Siamese(Conv F->F 3x3) signed 8-bit
    cost volume  cost[d] = sum_f FL[f, x] * FR[f, x - d], d < D                   -> signed 8-bit
    aggregation  Conv D->A 3x3, then A->A: 1x9, 3x3, 1x9, 9x1, 1x9, 3x3 (ReLU each), Conv A->D 3x3
    regression   argmax over D

Receptive field of one output pixel: 39 px wide (2.4 x D) and 23 px tall, all with dilation 1 (which the
build maps): the 1x9 kernels carry the horizontal context that a weakly textured surface needs, and at 98%
sparsity a wide kernel costs no more than a square one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from jpq2hw.compress.qmodules import QuantAct
from jpq2hw.compress.stereo import CostVolume, DisparityArgmax, Siamese, soft_bin_loss
from jpq2hw.data.stereo import d1, epe
from jpq2hw.data.stereo_scenes import SceneConfig, make_split

FRAME = (120, 160)        # exported frame (H, W): the hardware streams this
MAX_DISP = 16
CROP = (40, 96)           # training crops
FEATURES, AGG = 16, 20
# float parents (features, aggregation channels): "base" is the 32k-weight net of RESULTS_SCENES.md; "wide" has
# ~2x the weights, so that at 98-99% sparsity more weights survive for the same hardware budget
PARENTS = {"base": (16, 20), "wide": (16, 32)}
N_TRAIN, N_VAL, N_TEST = 800, 40, 100
DATA = SceneConfig(height=FRAME[0], width=FRAME[1], max_disp=MAX_DISP)
HERE = Path(__file__).resolve().parent
OUT = HERE / "out_scenes"

# aggregation kernels after the first 3x3 (D -> A); the last 3x3 maps A -> D
AGG_KERNELS = ((1, 9), (3, 3), (1, 9), (9, 1), (1, 9), (3, 3))


def _conv(cin, cout, k):
    return nn.Conv2d(cin, cout, k, padding=(k[0] // 2, k[1] // 2))


class SceneNet(nn.Module):
    def __init__(self, features: int = FEATURES, agg: int = AGG, max_disp: int = MAX_DISP):
        super().__init__()

        def signed():
            return QuantAct(8, signed=True, relu=False)

        self.features = nn.Sequential(
            Siamese(_conv(1, features, (3, 3))), nn.ReLU(),
            Siamese(_conv(features, features, (3, 3))), nn.ReLU(),
            Siamese(_conv(features, features, (3, 3))), signed(),
        )
        self.cost = CostVolume(max_disp)
        self.cost_act = signed()
        layers = [_conv(max_disp, agg, (3, 3)), nn.ReLU()]
        for k in AGG_KERNELS:
            layers += [_conv(agg, agg, k), nn.ReLU()]
        layers.append(_conv(agg, max_disp, (3, 3)))
        self.aggregate = nn.Sequential(*layers)
        self.regress = DisparityArgmax()
        # He initialization: with PyTorch's default (variance gain ~1/3 a layer) the cost volume's signal is
        # gone after 11 layers and training sits at the "predict the median disparity" plateau
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.regress(self.aggregate(self.cost_act(self.cost(self.features(x)))))


def receptive_field() -> tuple[int, int]:
    """(height, width) in px of one output pixel's receptive field."""
    kernels = [(3, 3)] * 3 + [(3, 3)] + list(AGG_KERNELS) + [(3, 3)]
    return 1 + sum(k[0] - 1 for k in kernels), 1 + sum(k[1] - 1 for k in kernels)


def split(name: str, n: int) -> dict:
    """A split at the full frame, cached in out_scenes/ (generation takes ~0.3 s a scene on one core)."""
    path = OUT / f"{name}_{n}_{FRAME[0]}x{FRAME[1]}_d{MAX_DISP}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    s = make_split(name, n, DATA)
    OUT.mkdir(exist_ok=True)
    np.savez_compressed(path, **s)
    return s


class Crops(Dataset):
    """Random crops of full frames (a new crop each time a frame is drawn); flips are not used since a
    mirrored stereo pair is not a stereo pair."""

    def __init__(self, images: np.ndarray, disparity: np.ndarray, crop=CROP, seed: int = 0):
        self.images, self.disparity, self.crop = images, disparity, crop
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        h, w = self.crop
        y = int(self.rng.integers(0, self.images.shape[2] - h + 1))
        x = int(self.rng.integers(0, self.images.shape[3] - w + 1))
        return (torch.from_numpy(self.images[i, :, y:y + h, x:x + w].copy()),
                torch.from_numpy(self.disparity[i, y:y + h, x:x + w].copy()))


@torch.no_grad()
def predict(model, images, batch: int = 8) -> np.ndarray:
    model.eval()
    images = torch.as_tensor(images)
    return torch.cat([model(images[i:i + batch]) for i in range(0, len(images), batch)])[:, 0].numpy()


def evaluate(model, images, disparity, visible=None) -> dict:
    pred = predict(model, images)
    out = {"epe": epe(pred, disparity), "d1": d1(pred, disparity)}
    if visible is not None:
        out.update(epe_visible=epe(pred, disparity, visible), d1_visible=d1(pred, disparity, visible))
    return out


def float_weights(parent: str = "base") -> Path:
    """Where train_scenes.py writes a parent's float weights."""
    return OUT / ("float.pt" if parent == "base" else f"float_{parent}.pt")


def make(batch_size: int = 16, seed: int = 0, n_train: int = N_TRAIN, parent: str = "base"):
    torch.manual_seed(seed)
    train = split("train", n_train)
    val = split("val", N_VAL)
    loader = DataLoader(Crops(train["image"], train["disparity"], seed=seed), batch_size=batch_size, shuffle=True)
    x_val, y_val = torch.tensor(val["image"]), val["disparity"]
    return {
        "model": SceneNet(*PARENTS[parent]),
        "train_loader": loader,
        "val_fn": lambda model: -evaluate(model, x_val, y_val)["epe"],  # compress keeps the highest
        "example_input": x_val[:1],  # the export's frame: FRAME
        "loss_fn": soft_bin_loss,
    }


def make_trained(**kwargs):
    """`make()` with train_scenes.py's float weights (out_scenes/float.pt)."""
    entry = make(**kwargs)
    entry["model"].load_state_dict(torch.load(float_weights(kwargs.get("parent", "base"))))
    return entry


def export_float(model: nn.Module, path, frame=FRAME) -> None:
    """The float network as plain ONNX at `frame` (H, W): what predict.py runs for a float model."""
    model.eval()
    torch.onnx.export(model, (torch.zeros(1, 2, *frame),), str(path), dynamo=False, input_names=["input"],
                      output_names=["output"], opset_version=13)


def load_compressed(checkpoint_dir):
    """The compressed (quantized, masked) torch model from a `jpq2hw compress` checkpoint."""
    from jpq2hw.compress.config import CompressConfig
    from jpq2hw.compress.qmodules import prepare_model, set_quant_enabled

    payload = torch.load(Path(checkpoint_dir) / "checkpoint.pt", weights_only=False)
    cfg = CompressConfig.from_dict({k: v for k, v in payload["config"].items() if v is not None})
    model = prepare_model(SceneNet(), cfg)
    set_quant_enabled(model, payload["quantized"])
    model.load_state_dict(payload["model"])
    model.eval()
    return model
