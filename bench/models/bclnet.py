"""BCL's network (Zhu et al., CVPR 2022; FlamieZhu/Balanced-Contrastive-Learning models/resnext.py BCLModel): the
backbone with a cosine classifier, a projection head for the features and head_fc for the class prototypes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.classifiers import NormedLinear


def projection_head(features: int, hidden: int, dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, dim))


class BCLNet(nn.Module):
    """forward(x): the classifier's cosines; forward(x, contrastive=True): (cosines, features, prototypes)."""

    def __init__(self, backbone: nn.Module, num_classes: int, hidden: int, dim: int):
        super().__init__()
        features = int(backbone.out_features)  # type: ignore[arg-type]
        self.backbone, self.classifier = backbone, NormedLinear(features, num_classes)
        self.head, self.head_fc = projection_head(features, hidden, dim), projection_head(features, hidden, dim)

    def forward(self, x: torch.Tensor, contrastive: bool = False):
        h = self.backbone(x)
        cosines = self.classifier(h)
        if not contrastive:
            return cosines
        prototypes = F.normalize(self.head_fc(self.classifier.weight.T), dim=1)
        return cosines, F.normalize(self.head(h), dim=1), prototypes
