"""Label-distribution-aware margin loss (Cao et al. 2019) on cosine logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

MAX_M = Param("max_m", 0.5, "largest LDAM margin (of the rarest class)",
              source="kaidic/LDAM-DRW cifar_train.py (LDAMLoss max_m=0.5)", check=lambda v: v > 0, phrase="positive",
              search=Search("linear", 0.1, 1.0))
S = Param("s", 30.0, "logit scale of the cosine head's outputs (LDAM; SADE's experts; the foundation methods' "
          "classifier, 25 as LIFT)",
          source="kaidic/LDAM-DRW losses.py (s=30)", check=lambda v: v > 0, phrase="positive",
          search=Search("log", 10.0, 64.0))


def setup(class_counts: Sequence[int], max_m: float, s: float) -> dict[str, Any]:
    """m_c = 1 / n_c ** 0.25 rescaled so that max_c m_c = max_m."""
    if s <= 0:
        raise ValueError("LDAM scale s must be positive")
    margins = 1.0 / np.sqrt(np.sqrt(np.asarray(class_counts, dtype=np.float64)))
    return {"margins": margins * (max_m / np.max(margins)), "s": float(s)}


def forward(cosine: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, margins: torch.Tensor,
            s: float, reduction: str = "mean") -> torch.Tensor:
    """The margin is subtracted from the target logit only; all logits are scaled by s."""
    import torch
    import torch.nn.functional as F

    is_target = F.one_hot(target, cosine.shape[1]).bool()
    shifted = torch.where(is_target, cosine - margins[target].unsqueeze(1), cosine)
    return F.cross_entropy(s * shifted, target, weight=weight, reduction=reduction)


PART = Part("loss", "ldam", "LDAM: CE(s (cos - m_y on the target), y), m_c proportional to n_c^(-1/4)",
            params=(MAX_M, S), setup=setup, forward=forward, head="normed", probability_scale="s", per_image=True,
            source="Cao et al., NeurIPS 2019; kaidic/LDAM-DRW losses.py")
