"""Four small models written the ordinary PyTorch way (BatchNorm, residual add, torch.cat, average pools,
ReLU6, LeakyReLU, Dropout, depthwise convs, view), used as they are by the bring-your-own-model tests."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBnCnn(nn.Module):
    """Conv-BN-ReLU blocks, MaxPool, Linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()),
            nn.MaxPool2d(2),
            nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class TinyResNet(nn.Module):
    """Stem, two residual blocks, global average pooling, Linear."""

    def __init__(self, width=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = BasicBlock(width)
        self.layer2 = BasicBlock(width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, 10)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(self.pool(x).view(x.size(0), -1))


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.dw = nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                                nn.ReLU6())
        self.pw = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())

    def forward(self, x):
        return self.pw(self.dw(x))


class MobileNetStyle(nn.Module):
    """Stem, a depthwise-separable block concatenated with its input, AvgPool2d, Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.block1 = DepthwiseSeparable(8, 8)
        self.pool = nn.AvgPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(16 * 4 * 4, 10))

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([x, self.block1(x)], dim=1)
        return self.head(self.pool(x))


class DropoutLeakyMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.LeakyReLU(), nn.Dropout(0.2),
                                    nn.Linear(32, 16), nn.LeakyReLU(0.125), nn.Linear(16, 10))

    def forward(self, x):
        return self.layers(x)


MODELS = {"cnn": ConvBnCnn, "resnet": TinyResNet, "mobilenet": MobileNetStyle, "mlp": DropoutLeakyMlp}


class BatchNormAfterAdd(nn.Module):
    """A BatchNorm that follows no Conv/Linear (after a residual add): kept as a BatchNorm."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        x = self.stem(x)
        y = self.bn(F.relu(self.a(x)) + self.b(x))
        return self.fc(torch.flatten(y, 1))
