"""Gaussian clouded logit (GCL; Li, Cheung and Lu, CVPR 2022), as Keke921/GCLLoss losses.py:53-83 computes it on
the cosine head's outputs (its NormedLinear is LDAM's).

Each call draws eps ~ N(0, 1/3) per image and class (clamped to [-1, 1]) and lowers every cosine by the class's
cloud: cos_c - noise_mul |eps| d_c / max_k d_k with d_c = log n_max - log n_c (0 for the largest class). The target
cosine loses a further margin m; the loss is CE(s x, y), or with focal gamma > 0 the per-image CE times the detached
(1 - p)^gamma, averaged (its train_cls=True branch, stage 2). Predictions are on the clean cosines. The noise comes
from the loss's own CPU generator (reseeded every epoch, saved mid-epoch), so a resumed run draws the same clouds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.parts.losses.ldam import S
from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

NOISE_MUL = Param("gcl_noise_mul", 0.5, "GCL: the cloud's amplitude on the cosine of the rarest class",
                  source="Keke921/GCLLoss cifar_train_backbone.py:238 and cifar_train_classifier.py:221 (noise_mul "
                         "0.5; GCLLoss's default 1.0, Places-LT's scripts)",
                  check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.0, 1.0))
MARGIN = Param("gcl_margin", 0.0, "GCL: additive margin on the target cosine (0 in stage 1, 0.1 in stage 2)",
               source="Keke921/GCLLoss cifar_train_backbone.py:238 (m=0.); cifar_train_classifier.py:221 (m=0.1)",
               check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.0, 0.5))
GAMMA = Param("gcl_gamma", 0.0, "GCL: focal gamma on the per-image CE, a detached (1 - p)^gamma (0: plain CE)",
              source="Keke921/GCLLoss losses.py:9-13 focal_loss; cifar_train_classifier.py:221 (train_cls, gamma 1)",
              check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.0, 3.0))


def setup(class_counts: Sequence[int], gcl_noise_mul: float, gcl_margin: float, gcl_gamma: float,
          s: float) -> dict[str, Any]:
    """The clouds' relative sizes d_c / max d (all 0 on balanced counts, where the code would divide by 0)."""
    gaps = np.log(np.max(class_counts)) - np.log(np.asarray(class_counts, dtype=np.float64))
    relative = gaps / gaps.max() if gaps.max() > 0 else gaps
    return {"cloud": relative * float(gcl_noise_mul), "margin": float(gcl_margin), "gamma": float(gcl_gamma),
            "s": float(s)}


def forward(cosine: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, cloud: torch.Tensor,
            margin: float, gamma: float, s: float, generator: torch.Generator) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    eps = torch.normal(0.0, 1 / 3, tuple(cosine.shape), generator=generator).clamp(-1, 1).to(cosine.device)
    clouded = cosine - eps.abs().to(cosine.dtype) * cloud
    is_target = F.one_hot(target, cosine.shape[1]).bool()
    output = torch.where(is_target, clouded - margin, clouded)
    if gamma == 0:
        return F.cross_entropy(s * output, target, weight=weight)
    ce = F.cross_entropy(s * output, target, weight=weight, reduction="none")
    return ((1 - torch.exp(-ce).detach()) ** gamma * ce).mean()


PART = Part("loss", "gcl", "GCL: CE(s (cos - |N(0, 1/3)| clouds growing to the tail, - m on the target), y), "
            "optionally focal; predictions on the clean cosines",
            params=(NOISE_MUL, MARGIN, GAMMA, S), setup=setup, forward=forward, head="normed",
            probability_scale="s", draws=True,
            source="Li et al., CVPR 2022; Keke921/GCLLoss losses.py GCLLoss")
