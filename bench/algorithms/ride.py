"""RIDE (Wang et al., ICLR 2021) stage 1, as frank-xwang/RIDE-LongTailRecognition model/loss.py RIDELoss does it.

With z_e = s cos_e the logits of expert e (the cosine head times s = 30) and o = the mean of the z_e:

    loss = sum over experts e of  LDAM-DRW(cos_e, y)  +  lambda * mean(T)^2 * KL(softmax(o / T) || softmax(z_e / T))

LDAM-DRW is the method's loss part (margins m_c proportional to n_c^(-1/4), max 0.5; class-balanced weights
from the DRW epoch on). The KL target softmax(o / T) is detached; KL is summed over classes and averaged over
the batch ('batchmean'). lambda = method.ride_diversity (negative: the experts are pushed apart). T is 1 before
the DRW epoch and per class from it on: T_c = b_c / max b, b_c = gamma C p_c + 1 - gamma (gamma =
method.ride_reweight_factor, p the training prior): the distribution-aware diversity. There is no loss term
on the mean output itself. With lambda = 0 the official code trains every expert's LDAM term on the mean output
instead (its "collaborative" mode); bench does the same.

The expert-assignment router, RIDE's second stage, is the child method `ride_ea` (bench/algorithms/ride_router.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.algorithms.experts import EXPERTS, REDUCE_EXPERTS, ExpertAlgorithm
from bench.algorithms.step import Step
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch


def diversity_temperature(class_counts: Sequence[int], gamma: float) -> np.ndarray:
    """T_c = b_c / max b, b_c = gamma C p_c + 1 - gamma: 1 for the most frequent class, less for the tail."""
    counts = np.asarray(class_counts, dtype=np.float64)
    b = gamma * len(counts) * counts / counts.sum() + 1.0 - gamma
    return b / b.max()


def ride_loss(cosines: torch.Tensor, labels: torch.Tensor, expert_loss: Any, s: float, diversity: float,
              temperature: torch.Tensor | None) -> torch.Tensor:
    """The loss of a batch: cosines (batch, K, classes); expert_loss(cosines, labels) the LDAM(-DRW) loss;
    temperature the per-class T (None: 1, before the DRW epoch)."""
    import torch
    import torch.nn.functional as F

    mean = cosines.mean(1)
    t = temperature if temperature is not None else torch.ones((), device=cosines.device)
    target = F.softmax(s * mean / t, dim=1).detach()
    total = cosines.new_zeros(())
    for e in range(cosines.shape[1]):
        total = total + expert_loss(mean if diversity == 0 else cosines[:, e], labels)
        if diversity != 0:
            log_q = F.log_softmax(s * cosines[:, e] / t, dim=1)
            total = total + diversity * t.mean() ** 2 * F.kl_div(log_q, target, reduction="batchmean")
    return total


class RIDEAlgorithm(ExpertAlgorithm):
    def setup(self) -> None:
        import torch

        super().setup()
        m = self.cfg["method"]
        self.s, self.diversity = float(m["s"]), float(m["ride_diversity"])
        temperature = diversity_temperature(self.data.train_counts, m["ride_reweight_factor"])
        self.temperature = torch.tensor(temperature, dtype=torch.float32, device=self.device)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cosines = self.expert_outputs(s, images)
        on = self.method.loss.rebalancing  # the DRW switch turns the class-dependent temperature on too
        loss = ride_loss(cosines, labels, self.method.loss, self.s, self.diversity, self.temperature if on else None)
        s.optimize(loss)
        return loss.detach(), cosines.mean(1).detach()


RIDE_DIVERSITY = Param("ride_diversity", -0.45, "lambda: weight of each expert's KL(mean output || expert output) "
                       "at temperature T (negative: the experts are pushed apart)",
                       source="RIDE configs/config_imbalance_cifar100_ride.json additional_diversity_factor "
                              "(ImageNet-LT, iNaturalist: -0.2)", check=lambda v: -10 <= v <= 10,
                       phrase="between -10 and 10", search=Search("linear", -1.0, 0.0))


RIDE_REWEIGHT = Param("ride_reweight_factor", 0.05, "gamma of the distribution-aware temperature T_c, proportional "
                      "to gamma C p_c + 1 - gamma, used from the DRW epoch on (before it T = 1)",
                      source="RIDE model/loss.py RIDELoss reweight_factor (ImageNet-LT 0.02, iNaturalist 0.015)",
                      check=lambda v: 0 <= v <= 1, phrase="in [0, 1]", search=Search("linear", 0.0, 0.1))


PART = Part("algorithm", "ride", "RIDE: K experts on a shared trunk, each trained with the method's loss (LDAM-DRW) "
            "plus a distribution-aware diversity term; the prediction is their mean",
            params=(EXPERTS, REDUCE_EXPERTS, RIDE_DIVERSITY, RIDE_REWEIGHT),
            source="Wang et al., ICLR 2021; frank-xwang/RIDE-LongTailRecognition model/loss.py RIDELoss, "
                   "model/ldam_drw_resnets/ride_resnet_cifar.py",
            build=lambda: RIDEAlgorithm,
            traits=Traits(experts=True, no_mix="RIDE trains its experts on plain batches", step_cost=1.5,
                          reads_switch=True))  # the DRW epoch turns the distribution-aware temperature on
