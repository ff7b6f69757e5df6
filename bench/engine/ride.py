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

The expert-assignment router, RIDE's second stage, is the child method `ride_ea` (bench/engine/ride_router.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.engine.experts import ExpertAlgorithm
from bench.engine.step import Step


def diversity_temperature(class_counts, gamma: float) -> np.ndarray:
    """T_c = b_c / max b, b_c = gamma C p_c + 1 - gamma: 1 for the most frequent class, less for the tail."""
    counts = np.asarray(class_counts, dtype=np.float64)
    b = gamma * len(counts) * counts / counts.sum() + 1.0 - gamma
    return b / b.max()


def ride_loss(cosines: torch.Tensor, labels: torch.Tensor, expert_loss: Any, s: float, diversity: float,
              temperature: torch.Tensor | None) -> torch.Tensor:
    """The loss of a batch: cosines (batch, K, classes); expert_loss(cosines, labels) the LDAM(-DRW) loss;
    temperature the per-class T (None: 1, before the DRW epoch)."""
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
