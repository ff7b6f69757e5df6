"""Losses: cross-entropy, focal and LDAM, in the reference code's (kaidic/LDAM-DRW) form.

Every loss keeps its class weights in a `weight` buffer (None = unweighted) so a
deferred schedule can switch them on mid-training.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class FocalLoss(nn.Module):
    """Softmax focal loss.

    form="reference" (default) is the reference code: ce = CE(x, y, weight=w, reduction='none'),
    p = exp(-ce), loss = mean((1 - p) ** gamma * ce) -- with weights, p is p_y ** w_y and the
    mean is a plain batch mean. form="standard" is Lin et al.'s alpha-weighted form:
    mean(w_y * (1 - p_y) ** gamma * -log p_y). Without weights both are identical.
    """

    def __init__(self, gamma=1.0, weight=None, form="reference"):
        super().__init__()
        if form not in ("reference", "standard"):
            raise ValueError(f"unknown focal form {form!r}")
        self.gamma = float(gamma)
        self.form = form
        self.register_buffer("weight", weight)

    def forward(self, logits, target):
        if self.form == "reference" or self.weight is None:
            ce = F.cross_entropy(logits, target, weight=self.weight, reduction="none")
            p = torch.exp(-ce)
            return ((1 - p) ** self.gamma * ce).mean()
        ce = F.cross_entropy(logits, target, reduction="none")
        p = torch.exp(-ce)
        return (self.weight[target] * (1 - p) ** self.gamma * ce).mean()


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss on cosine logits.

    m_c = 1 / n_c ** 0.25 rescaled so max_c m_c = max_m; the margin is subtracted from the
    target logit only, all logits are scaled by s, then (weighted-mean) cross-entropy.
    """

    def __init__(self, class_counts, max_m=0.5, s=30.0, weight=None):
        super().__init__()
        margins = 1.0 / np.sqrt(np.sqrt(np.asarray(class_counts, dtype=np.float64)))
        margins = margins * (max_m / np.max(margins))
        if s <= 0:
            raise ValueError("LDAM scale s must be positive")
        self.register_buffer("margins", torch.tensor(margins, dtype=torch.float32))
        self.s = float(s)
        self.register_buffer("weight", weight)

    def forward(self, cosine, target):
        is_target = F.one_hot(target, cosine.shape[1]).bool()
        shifted = torch.where(is_target, cosine - self.margins[target].unsqueeze(1), cosine)
        return F.cross_entropy(self.s * shifted, target, weight=self.weight)


class CrossEntropy(nn.Module):
    def __init__(self, weight=None):
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, weight=self.weight)


def build_loss(method_cfg, class_counts):
    loss = method_cfg["loss"]
    if loss == "ce":
        return CrossEntropy()
    if loss == "focal":
        return FocalLoss(gamma=method_cfg["gamma"], form=method_cfg["focal_form"])
    if loss == "ldam":
        return LDAMLoss(class_counts, max_m=method_cfg["max_m"], s=method_cfg["s"])
    raise ValueError(f"unknown loss {loss!r}")
