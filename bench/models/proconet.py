"""ProCo's network (Du et al., TPAMI 2024; LeapLabTHU/ProCo models/resnext.py and ProCo_cifar/models/resnet_cifar.py
Model): the backbone, a classifier on its pooled feature (an nn.Linear with PyTorch's default draw on CIFAR, the
cosine classifier s cos on ImageNet-LT and iNaturalist) and a projection head Linear - BN - ReLU - Linear whose output
is L2-normalised (BCL's head, on which ProCo is built)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.bclnet import projection_head
from bench.models.classifiers import NormedLinear


class ProCoNet(nn.Module):
    """forward(x): the classifier's logits; forward(x, contrastive=True): (logits, normalised projections).
    scale 0: nn.Linear(features, classes) (use_norm False); scale s > 0: s normalize(x) @ normalize(W)."""

    def __init__(self, backbone: nn.Module, num_classes: int, hidden: int, dim: int, scale: float):
        super().__init__()
        features = int(backbone.out_features)  # type: ignore[arg-type]
        self.backbone, self.scale = backbone, float(scale)
        self.classifier = NormedLinear(features, num_classes) if scale > 0 else nn.Linear(features, num_classes)
        self.head = projection_head(features, hidden, dim)

    def forward(self, x: torch.Tensor, contrastive: bool = False):
        h = self.backbone(x)
        logits = self.classifier(h)
        if self.scale > 0:
            logits = self.scale * logits
        if not contrastive:
            return logits
        return logits, F.normalize(self.head(h), dim=1)
