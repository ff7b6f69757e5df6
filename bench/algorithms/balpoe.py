"""BalPoE (Sanchez Aimar et al., CVPR 2023), as emasa/BalPoE-CalibratedLT model/loss.py BSExpertLoss and
utils/combiner.py train it.

Three experts on a shared trunk (full width: the configs' reduce_dimension false), z_k = s cos_k (the cosine head
times s = 30), pi the training prior, tau_k = method.balpoe_taus[k]:

    L(y) = mean_k CE(z_k + tau_k log(pi + 1e-9), y)

Expert k fits the test prior pi^(1 - tau_k) (the paper's lambda_k = 1 - tau_k); with taus averaging 1 the mean of the
experts is balanced. Every batch is mixed (method.mix, mixup in every recipe): one lambda and one partner per batch,
loss = lam L(y) + (1 - lam) L(y_partner) on the same logits (utils/combiner.py mixup). The prediction is the plain
mean of the raw expert logits (test.py), the multi-expert network's mean output; no test-time prior.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.algorithms.experts import EXPERTS, REDUCE_EXPERTS, ExpertAlgorithm
from bench.algorithms.protocol import log_prior
from bench.algorithms.step import Step
from bench.parts.losses.ldam import S
from bench.parts.part import Param, Part, Traits

if TYPE_CHECKING:
    import torch


def balpoe_loss(cosines: torch.Tensor, labels: torch.Tensor, s: float, log_prior: torch.Tensor,
                taus: torch.Tensor) -> torch.Tensor:
    """mean over experts of CE(s cos_k + tau_k log pi, y); cosines (batch, K, classes)."""
    import torch.nn.functional as F

    adjusted = s * cosines + taus[None, :, None] * log_prior[None, None, :]
    total = F.cross_entropy(adjusted[:, 0], labels)
    for k in range(1, adjusted.shape[1]):  # summed in the official order, then divided
        total = total + F.cross_entropy(adjusted[:, k], labels)
    return total / adjusted.shape[1]


class BalPoEAlgorithm(ExpertAlgorithm):
    def setup(self) -> None:
        import torch

        super().setup()
        m = self.cfg["method"]
        self.s = float(m["s"])
        self.log_prior = log_prior(self.data.train_counts, self.device, eps=1e-9)
        self.taus = torch.tensor([float(t) for t in m["balpoe_taus"]], device=self.device)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images, (labels, partner, lam) = self.method.mix_batch(images, labels)
        cosines = self.expert_outputs(s, images)
        loss = balpoe_loss(cosines, labels, self.s, self.log_prior, self.taus)
        if partner is not None:
            loss = lam * loss + (1.0 - lam) * balpoe_loss(cosines, partner, self.s, self.log_prior, self.taus)
        s.optimize(loss)
        return loss.detach(), cosines.mean(1).detach()


def _taus_ok(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 3
            and all(type(t) in (int, float) and -10 <= t <= 10 for t in value))


BALPOE_TAUS = Param("balpoe_taus", [0.0, 1.0, 2.0], "BalPoE: the logit adjustment of each of the 3 experts, CE(z_k + "
                    "tau_k log pi, y) (expert k fits the test prior pi^(1 - tau_k))",
                    source="emasa/BalPoE-CalibratedLT model/loss.py BSExpertLoss (tau_list (0, 1, 2)); the CIFAR "
                           "configs [0, 1, 2], ImageNet-LT's [0, 1.25, 2.5], iNaturalist's [-1, 1, 3]",
                    types=(list,), check=_taus_ok, phrase="a list of 3 numbers in [-10, 10], one per expert")

PART = Part("algorithm", "balpoe", "BalPoE: three experts on a shared trunk, each trained with logit-adjusted CE for "
            "its own test prior (tau_k log pi), on mixed batches; the prediction is the mean of their logits",
            params=(EXPERTS, REDUCE_EXPERTS, BALPOE_TAUS, S),
            source="Sanchez Aimar et al., CVPR 2023; emasa/BalPoE-CalibratedLT model/loss.py BSExpertLoss, "
                   "utils/combiner.py",
            build=lambda: BalPoEAlgorithm,
            probability_scale="s",
            traits=Traits(experts=True, fixed_experts=3, step_cost=1.5,
                          own_loss="its experts' logit-adjusted CE (method.balpoe_taus)"))
