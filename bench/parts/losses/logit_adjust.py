"""Logit-adjusted loss (Menon et al. 2021) and Balanced Softmax (Ren et al. 2020): one loss, two names.

CE(z + tau log pi, y) with pi_c = n_c / N; Balanced Softmax is CE(z + log n, y), which is the same
for tau = 1 (log n and log pi differ by log N, a constant softmax ignores). Test on plain z.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

LA_TAU = Param("la_tau", 1.0, "tau of the logit adjustment tau * log(prior)",
               source="Menon et al., ICLR 2021, Sec. 4 and google-research/google-research logit_adjustment "
                      "(tau = 1)", check=lambda v: v >= 0, phrase="non-negative",
               search=Search("linear", 0.5, 2.0))


def setup(class_counts: Sequence[int], la_tau: float) -> dict[str, Any]:
    counts = np.asarray(class_counts, dtype=np.float64)
    return {"offsets": la_tau * np.log(counts / counts.sum())}


def setup_balanced(class_counts: Sequence[int]) -> dict[str, Any]:
    return {"offsets": np.log(np.asarray(class_counts, dtype=np.float64))}


def forward(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
            offsets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    import torch.nn.functional as F

    return F.cross_entropy(logits + offsets, target, weight=weight, reduction=reduction)


PART = Part("loss", "logit_adjust", "logit-adjusted CE: CE(z + tau log pi, y); predictions on plain z",
            params=(LA_TAU,), setup=setup, forward=forward, source="Menon et al., ICLR 2021", per_image=True)
BALANCED_SOFTMAX = Part("loss", "balanced_softmax", "Balanced Softmax: CE(z + log n, y) (= logit_adjust, tau 1)",
                        setup=setup_balanced, forward=forward, per_image=True,
                        source="Ren et al., NeurIPS 2020; jiawei-ren/BalancedMetaSoftmax-Classification")
PARTS = (PART, BALANCED_SOFTMAX)
