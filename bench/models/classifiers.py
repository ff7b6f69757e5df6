"""Classifier modules: a Linear layer, the LDAM paper's NormedLinear (cosine) head (the head parts of
bench/parts/heads.py build them), LWS's per-class scales and DisAlign's calibration."""

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


class DisAlign(nn.Module):
    """DisAlign's calibration of a frozen head (Zhang et al., CVPR 2021): logits z = head(x), an input-dependent
    gate s = sigmoid(v.x + c) and a magnitude and margin per class.

    form "code": (1 + s scale) z + s bias, scale from 1, bias from 0, v from 0.1, c nn.Linear's default draw
    (Megvii-BaseDetection/cvpods cvpods/layers/wrappers.py DisAlignLinear, the classification layer).
    form "paper": s (scale z + bias) + (1 - s) z, scale from 1, bias from 0, v ~ N(0, 0.01), c 0 (the paper's
    equation and cvpods/modeling/roi_heads/disalign_fast_rcnn.py, the detection head); it starts at z."""

    def __init__(self, head: nn.Module, in_features: int, num_classes: int, form: str = "code") -> None:
        super().__init__()
        if form not in ("code", "paper"):
            raise ValueError(f"DisAlign form {form!r} is not code or paper")
        self.head, self.form = head, form
        self.confidence = nn.Linear(in_features, 1)
        self.scale = nn.Parameter(torch.ones(1, num_classes))
        self.bias = nn.Parameter(torch.zeros(1, num_classes))
        if form == "code":
            nn.init.constant_(self.confidence.weight, 0.1)
        else:
            nn.init.normal_(self.confidence.weight, std=0.01)
            nn.init.constant_(self.confidence.bias, 0.0)

    def calibration(self) -> list[nn.Parameter]:
        """The parameters stage 2 trains: the gate's, the scales and the margins (the head stays frozen)."""
        return [*self.confidence.parameters(), self.scale, self.bias]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(x)
        s = torch.sigmoid(self.confidence(x))
        if self.form == "code":
            return (1 + s * self.scale) * z + s * self.bias
        return s * (self.scale * z + self.bias) + (1 - s) * z
