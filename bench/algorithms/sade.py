"""SADE (Zhang et al., NeurIPS 2022) training, as Vanint/SADE-AgnosticLT model/loss.py DiverseExpertLoss does it.

Three experts on a shared trunk, z_k = s cos_k (the cosine head times s = 30), pi the training prior:

    loss = CE(z_1, y) + CE(z_2 + log pi, y) + CE(z_3 + log pi - lambda log pi_inv, y)

(log of pi + 1e-9 as the official code). Expert 1 fits the long-tailed training distribution, expert 2 (balanced
softmax) a uniform one, expert 3 an inversely long-tailed one. pi_inv is pi's values swapped by rank, not 1 / pi:
the rarest class gets the largest prior value (sorted with a stable sort, so tied counts are deterministic; the
official code's torch.sort does not promise an order for ties). lambda = method.sade_tau. The prediction is
the plain mean of the three experts' outputs (the official prediction without test-time aggregation).

The test-time self-supervised aggregation on unlabelled test images is the child method `sade_tta`
(bench/algorithms/sade_tta.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.algorithms.experts import EXPERTS, REDUCE_EXPERTS, ExpertAlgorithm
from bench.algorithms.protocol import log_prior, log_tensor
from bench.algorithms.step import Step
from bench.parts.losses.ldam import S
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch


def inverse_prior(prior: np.ndarray) -> np.ndarray:
    """pi's values swapped by rank: the class with the k-th smallest prior gets the k-th largest value."""
    prior = np.asarray(prior, dtype=np.float64)
    order = np.argsort(prior, kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(len(prior))
    return np.sort(prior, kind="stable")[len(prior) - 1 - ranks]


def sade_loss(cosines: torch.Tensor, labels: torch.Tensor, s: float, log_prior: torch.Tensor,
              log_inverse: torch.Tensor, tau: float) -> torch.Tensor:
    import torch.nn.functional as F

    z = s * cosines
    return (F.cross_entropy(z[:, 0], labels) + F.cross_entropy(z[:, 1] + log_prior, labels)
            + F.cross_entropy(z[:, 2] + log_prior - tau * log_inverse, labels))


class SADEAlgorithm(ExpertAlgorithm):
    def setup(self) -> None:
        super().setup()
        m = self.cfg["method"]
        counts = np.asarray(self.data.train_counts, dtype=np.float64)
        prior = counts / counts.sum()
        self.s, self.tau = float(m["s"]), float(m["sade_tau"])
        self.log_prior = log_prior(counts, self.device, eps=1e-9)
        self.log_inverse = log_tensor(inverse_prior(prior), self.device, eps=1e-9)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cosines = self.expert_outputs(s, images)
        loss = sade_loss(cosines, labels, self.s, self.log_prior, self.log_inverse, self.tau)
        s.optimize(loss)
        return loss.detach(), cosines.mean(1).detach()


SADE_TAU = Param("sade_tau", 2.0, "lambda of the third (inverse-softmax) expert: CE(s z + log pi - lambda log "
                 "pi_inverse, y)", source="SADE configs tau (CIFAR-100-LT, ImageNet-LT: 2; iNaturalist, "
                                          "Places-LT: 1)", check=lambda v: 0 <= v <= 10, phrase="in [0, 10]",
                 search=Search("linear", 0.5, 3.0))


PART = Part("algorithm", "sade", "SADE: three experts on a shared trunk, trained with softmax, balanced-softmax and "
            "inverse-softmax losses (each skilled for one test distribution); the prediction is their mean",
            params=(EXPERTS, REDUCE_EXPERTS, SADE_TAU, S),
            source="Zhang et al., NeurIPS 2022; Vanint/SADE-AgnosticLT model/loss.py DiverseExpertLoss, "
                   "model/ldam_drw_resnets/expert_resnet_cifar.py",
            build=lambda: SADEAlgorithm,
            probability_scale="s",
            traits=Traits(experts=True, fixed_experts=3, no_mix="SADE trains its experts on plain batches",
                          step_cost=1.5, own_loss="its three experts' softmax, balanced and inverse softmax losses"))
