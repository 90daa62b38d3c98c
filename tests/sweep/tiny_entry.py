"""A tiny model for the sweep tests: an MLP on scikit-learn's 8x8 digits (bundled, no download), trained briefly.
Its build is small (two dense layers, io_parallel), so a trial is seconds of training and one short g++ build."""

import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset


def make():
    torch.manual_seed(0)
    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.long)
    x_train, y_train, x_test, y_test = x[:1200], y[:1200], x[1200:], y[1200:]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))

    def accuracy(m):
        m.eval()
        with torch.no_grad():
            return (m(x_test).argmax(1) == y_test).float().mean().item()

    return {"model": model, "train_loader": DataLoader(TensorDataset(x_train, y_train), batch_size=100, shuffle=True),
            "val_fn": accuracy, "example_input": x_test[:1]}
