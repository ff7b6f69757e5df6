"""Classifier modules: a Linear layer, the LDAM paper's NormedLinear (cosine) head (the head parts of
bench/parts/heads.py build them) and LWS's per-class scales."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NormedLinear(nn.Module):
    """Cosine logits normalize(x) @ normalize(W) in [-1, 1]; W is (in, C), no bias.

    Init as the reference: uniform(-1, 1), then every class column renormalised to unit norm.
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.weight.data.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)

    def forward(self, x):
        return F.normalize(x, dim=1).mm(F.normalize(self.weight, dim=0))


def linear_head(in_features, num_classes):
    head = nn.Linear(in_features, num_classes)
    nn.init.kaiming_normal_(head.weight)  # the reference's _weights_init; bias keeps PyTorch's default
    return head


class ClassScale(nn.Module):
    """Logits times one learnable scale per class (LWS), initialised to 1."""

    def __init__(self, num_classes):
        super().__init__()
        self.scales = nn.Parameter(torch.ones(num_classes))

    def forward(self, logits):
        return logits * self.scales
