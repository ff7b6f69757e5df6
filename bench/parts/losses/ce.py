"""Cross-entropy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.parts.part import Part

if TYPE_CHECKING:
    import torch


def forward(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
            reduction: str = "mean") -> torch.Tensor:
    import torch.nn.functional as F

    return F.cross_entropy(logits, target, weight=weight, reduction=reduction)


PART = Part("loss", "ce", "cross-entropy (weighted mean with class weights)", forward=forward, per_image=True)
