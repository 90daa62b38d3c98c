"""Entry for `jpq2hw compress`: a small CNN on scikit-learn's 8x8 digits (bundled, no download).

`make()` returns what the compress command needs: the float model, a training loader, a
validation function (accuracy on the held-out 30%), and an example input for the export.
Pixels are 0..16; divided by 16 they sit exactly on the 8-bit input quantizer's grid."""

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset


class DigitsCNN(nn.Module):
    def __init__(self, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),                       # 8x8
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 4x4
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 2x2
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * width * 2 * 2, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def digits_tensors(seed: int = 0):
    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=seed, stratify=y)
    return (x[idx_train], y[idx_train]), (x[idx_test], y[idx_test])


def accuracy(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def make(batch_size: int = 64, seed: int = 0):
    torch.manual_seed(seed)
    (x_train, y_train), (x_test, y_test) = digits_tensors(seed)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True)
    return {
        "model": DigitsCNN(),
        "train_loader": train_loader,
        "val_fn": lambda model: accuracy(model, x_test, y_test),
        "example_input": x_test[:1],
    }
