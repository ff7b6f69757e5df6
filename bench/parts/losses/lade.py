"""LADE (Hong et al., CVPR 2021): the prior-adjusted cross-entropy plus the LADE regulariser, as hyperconnect/LADE
computes them (loss/PriorCELoss.py, loss/LADELoss.py; their sum in run_networks.py:266-280).

L = CE(f + log(p + 1e-9), y) + alpha * LADER, with p_c = n_c / N the training prior, and for every class c
    T1_c = sum_{i: y_i = c} f_c(x_i) / (b_c + 1e-8)            (b_c: class c's images in the batch)
    T2_c = logsumexp_i [f_c(x_i) - log(p_c + 1e-9) + log(1/C + 1e-9)] - log B    (over all B images of the batch)
    LADER = -sum_c p_c (T1_c - T2_c - lambda T2_c^2)
All C classes enter LADER, present in the batch or not (an absent class has T1_c = 0). Predictions are the plain
logits f (the official test adds the log prior of the evaluated split, a constant on a balanced test set).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

LADE_ALPHA = Param("lade_alpha", 0.1, "weight of the LADE regulariser beside the prior-adjusted CE",
                   source="hyperconnect/LADE main.py:29 (--alpha, default 0.1, which overrides the configs' "
                          "RouteWeightLoss.weight: utils.py:61-62)", check=lambda v: v >= 0, phrase="non-negative",
                   search=Search("log", 0.005, 0.5))
LADE_LAMBDA = Param("lade_lambda", 0.1, "ReMINE penalty lambda of the LADE regulariser's second term",
                    source="hyperconnect/LADE loss/LADELoss.py:55 (remine_lambda=0.1)", check=lambda v: v >= 0,
                    phrase="non-negative", search=Search("log", 0.01, 1.0))


def setup(class_counts: Sequence[int], lade_alpha: float, lade_lambda: float) -> dict[str, Any]:
    counts = np.asarray(class_counts, dtype=np.float64)
    prior = counts / counts.sum()
    return {"prior": prior, "log_prior": np.log(prior + 1e-9), "alpha": float(lade_alpha),
            "lam": float(lade_lambda)}


def forward(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, prior: torch.Tensor,
            log_prior: torch.Tensor, alpha: float, lam: float) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    batch, classes = logits.shape
    ce = F.cross_entropy(logits + log_prior, target, weight=weight)
    onehot = F.one_hot(target, classes).to(logits.dtype)
    first = (logits * onehot).sum(0) / (onehot.sum(0) + 1e-8)
    second = torch.logsumexp(logits - log_prior + math.log(1.0 / classes + 1e-9), dim=0) - math.log(batch)
    bound = first - second - lam * second**2
    return ce - alpha * (prior * bound).sum()


PART = Part("loss", "lade", "LADE: CE(z + log prior, y) + alpha * the LADE regulariser; predictions on plain z",
            params=(LADE_ALPHA, LADE_LAMBDA), setup=setup, forward=forward,
            source="Hong et al., CVPR 2021; hyperconnect/LADE loss/PriorCELoss.py, loss/LADELoss.py")
