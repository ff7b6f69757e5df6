"""Cross-entropy."""

from bench.parts.part import Part


def forward(logits, target, weight):
    import torch.nn.functional as F

    return F.cross_entropy(logits, target, weight=weight)


PART = Part("loss", "ce", "cross-entropy (weighted mean with class weights)", forward=forward)
