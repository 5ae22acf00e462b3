"""The torch definitions of optlab's networks, shared by tools/bench/torch_train.py (speed) and
tools/golden/torch_train.py (goldens), and described in docs/networks.md: the same layers, names
and parameter layouts as optlab's tasks (`mnist-mlp`/`cifar-mlp`, `mnist-cnn`, `cifar-cnn`,
`cifar-resnet18`/`tinyimagenet-resnet18`)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class MnistCnn(nn.Module):
    def __init__(self, p=(0.25, 0.5)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)
        self.p = p

    def forward(self, x):
        x = x.reshape(-1, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.dropout(x, self.p[0], self.training).flatten(1)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), self.p[1], self.training))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    def __init__(self, classes=10, widths=(64, 128, 256, 512), channels=3, side=32):
        super().__init__()
        self.channels, self.side = channels, side
        self.conv1 = nn.Conv2d(channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        c = widths[0]
        for i, (w, s) in enumerate(zip(widths, (1, 2, 2, 2))):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(c, w, s), BasicBlock(w, w, 1)))
            c = w
        self.fc = nn.Linear(widths[3], classes)

    def forward(self, x):
        x = x.reshape(-1, self.channels, self.side, self.side)
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean(dim=(2, 3)))


class CifarCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 32, 3), nn.Conv2d(32, 64, 3)
        self.fc1, self.fc2 = nn.Linear(2304, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x.view(-1, 3, 32, 32))), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(F.dropout(x, 0.25, self.training), 1)))
        return self.fc2(F.dropout(x, 0.5, self.training))
