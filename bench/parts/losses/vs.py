"""Vector-scaling (VS) loss (Kini et al. 2021): CE(Delta * z + iota, y).

Delta_c = (n_c / n_max)^gamma, iota_c = tau log pi_c. Computed as the official code does
(orparask/VS-Loss class_imbalance/losses.py VSLoss: z / ((1/n)^gamma / min (1/n)^gamma) + tau log pi; the
files moved from the repository's root, losses.py and cifar_train.py, in its commit 7ade9c9).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

VS_GAMMA = Param("vs_gamma", 0.3, "gamma of the multiplicative adjustment Delta_c = (n_c / n_max)^gamma",
                 source="orparask/VS-Loss class_imbalance/train.py (--gamma default 0.3)",
                 check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.0, 0.5))
VS_TAU = Param("vs_tau", 1.0, "tau of the additive adjustment iota_c = tau log pi_c",
               source="orparask/VS-Loss class_imbalance/train.py (--tau default 1.0)",
               check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.5, 2.0))


def setup(class_counts: Sequence[int], vs_gamma: float, vs_tau: float) -> dict[str, Any]:
    counts = np.asarray(class_counts, dtype=np.float64)
    temp = (1.0 / counts) ** vs_gamma
    return {"delta": temp / np.min(temp), "iota": vs_tau * np.log(counts / counts.sum())}


def forward(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, delta: torch.Tensor,
            iota: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    import torch.nn.functional as F

    return F.cross_entropy(logits / delta + iota, target, weight=weight, reduction=reduction)


PART = Part("loss", "vs", "VS loss: CE(z (n/n_max)^gamma + tau log pi, y); predictions on plain z",
            params=(VS_GAMMA, VS_TAU), setup=setup, forward=forward, per_image=True,
            source="Kini et al., NeurIPS 2021; orparask/VS-Loss")
