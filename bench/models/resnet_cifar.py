"""The reference CIFAR ResNet-32 ("ResNet-s", kaidic/LDAM-DRW models/resnet_cifar.py).

3x3 stem (16 ch) + BN + ReLU, three stages of 5 BasicBlocks (16/32/64, strides 1/2/2),
option-A shortcuts (stride-2 subsampling + zero channel padding, no parameters),
global average pool. Kaiming-normal init on every Conv2d (and on the Linear head).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class ShortcutA(nn.Module):
    """Option A: x[:, :, ::2, ::2] with (planes - in_planes) // 2 zero channels on each side (planes // 4 when
    the width doubles, as in the reference; RIDE's reduced expert widths 16 -> 24 -> 48 pad 4 and 12)."""

    def __init__(self, planes, in_planes=None):
        super().__init__()
        self.pad = planes // 4 if in_planes is None else (planes - in_planes) // 2

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(planes, in_planes) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """Feature extractor; the classifier head is attached by bench.algorithms.network.build_model."""

    def __init__(self, num_blocks=(5, 5, 5), in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for planes, blocks, stride in zip((16, 32, 64), num_blocks, (1, 2, 2)):
            for s in [stride] + [1] * (blocks - 1):
                layers.append(BasicBlock(in_planes, planes, s))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.out_features = 64
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        return F.adaptive_avg_pool2d(out, 1).flatten(1)


def resnet32(in_channels=3):
    return ResNetCifar((5, 5, 5), in_channels)
