"""Softmax focal loss (Lin et al. 2017) in the reference code's form, or Lin et al.'s alpha form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

GAMMA = Param("gamma", 1.0, "focal loss focusing parameter",
              source="kaidic/LDAM-DRW cifar_train.py (FocalLoss gamma=1, hard-coded; the paper does not state it)",
              check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.0, 3.0))
FORM = Param("focal_form", "reference",
             "reference: CE(weight=w) inside p, plain batch mean (kaidic/LDAM-DRW losses.py); "
             "standard: mean(w_y (1 - p_y)^gamma (-log p_y)) (Lin et al.)",
             choices=("reference", "standard"))


def setup(class_counts: Sequence[int] | None, gamma: float, focal_form: str) -> dict[str, Any]:
    if focal_form not in FORM.choices:
        raise ValueError(f"unknown focal form {focal_form!r}")
    return {"gamma": float(gamma), "form": focal_form}


def forward(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, gamma: float,
            form: str) -> torch.Tensor:
    """form="reference": ce = CE(x, y, weight=w, reduction='none'), p = exp(-ce),
    loss = mean((1 - p) ** gamma * ce) -- with weights p is p_y ** w_y and the mean a plain batch
    mean. form="standard": mean(w_y * (1 - p_y) ** gamma * -log p_y). Without weights both agree."""
    import torch
    import torch.nn.functional as F

    if form == "reference" or weight is None:
        ce = F.cross_entropy(logits, target, weight=weight, reduction="none")
        p = torch.exp(-ce)
        return ((1 - p) ** gamma * ce).mean()
    ce = F.cross_entropy(logits, target, reduction="none")
    p = torch.exp(-ce)
    return (weight[target] * (1 - p) ** gamma * ce).mean()


PART = Part("loss", "focal", "softmax focal loss", params=(GAMMA, FORM), setup=setup, forward=forward,
            source="Lin et al., ICCV 2017; kaidic/LDAM-DRW losses.py")
