"""The class-balanced loss's "softmax" form of weight balancing's official code: a binary cross-entropy on the
softmax probabilities against one-hot labels, each sample weighted by its class's weight in every column, averaged
over batch x classes (ShadeAlsha/LTR-weight-balancing utils/class_balanced_loss.py CB_loss, loss_type "softmax"):

    L = 1 / (B C) sum_i w_{y_i} [ -log p_{i, y_i} - sum_{c != y_i} log(1 - p_{i, c}) ]   (logs clamped at -100)

Its logit gradient is about (1 + p_y) / C times a weighted softmax cross-entropy's (B C in the denominator instead
of sum_i w_{y_i}): with weight balancing's stage-2 weight decay 0.1 that scale decides where the classifier
settles (the official run shrinks it to nearly uniform logits that still rank the right class first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.parts.part import Part

if TYPE_CHECKING:
    import torch


def forward(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    import torch.nn.functional as F

    probs = F.softmax(logits, dim=1)
    onehot = F.one_hot(target, logits.shape[1]).to(probs.dtype)
    columns = None if weight is None else weight[target].unsqueeze(1).expand_as(probs)
    return F.binary_cross_entropy(probs, onehot, weight=columns)


PART = Part("loss", "softmax_bce", "binary cross-entropy on softmax probabilities, one-hot targets, class weights "
            "per sample in every column, mean over batch x classes (weight balancing's official CB loss)",
            forward=forward, source="Alshammari et al., CVPR 2022; ShadeAlsha/LTR-weight-balancing "
                                    "utils/class_balanced_loss.py CB_loss(loss_type='softmax')")
