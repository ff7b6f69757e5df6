"""DirMixE (Yang et al., ICML 2024) training, as scongl/DirMixE (2b67827) model/loss.py LogitAdjustExpertLoss and
trainer/trainer.py do it, on SADE's three experts (z_k = s cos_k, the cosine head times s = 30).

Three test-prior components: pi (the training prior), uniform, and pi's values swapped by rank (SADE's inverse
prior), each normalised. Once per run, a pool of trials x (batches per epoch) test priors: component k uniform in
{0, 1, 2}, w ~ Dirichlet(concentration x component_k). At each epoch start the pool is shuffled, and each batch takes
the next `trials` of it; for each (w, k) the expert k of that component is trained on

    l_t = CE(z_k - log((w / pi)^power + 1e-9), y)      (as written: log(w^p / pi^p + 1e-9))

and the loss is mean_t l_t, plus lambda x the upper semi-variance sum_{l_t > mean} (l_t - mean)^2 / max(n - 1, 1)
(n the number above the mean) from 0-based epoch int(0.8 (epochs + 1)) on (the official flag, epoch <= int(0.8 x
(epochs + 1)) on 1-based epochs). The prediction is the plain mean of the experts (the official test-time aggregation
is SADE's: `sade_tta` on a sade run).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.algorithms.experts import EXPERTS, REDUCE_EXPERTS, ExpertAlgorithm
from bench.algorithms.sade import inverse_prior
from bench.algorithms.step import Step
from bench.parts.losses.ldam import S
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch


def components(counts: Any) -> np.ndarray:
    """(3, C) float32: the training prior, the uniform prior and the inverse prior, each normalised (loss.py:325-363,
    in float32 as the official tensors)."""
    prior = np.asarray(counts, dtype=np.float32)
    prior = prior / prior.sum()
    out = np.stack([prior, np.full_like(prior, 1.0 / len(prior)), inverse_prior(prior).astype(np.float32)])
    return out / out.sum(1, keepdims=True)


def prior_pool(counts: Any, size: int, concentration: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """generate_weights_pool (loss.py:366-381): `size` (w, k) pairs, k uniform over the 3 components, w ~
    Dirichlet(concentration x component k); w as float32 (size, C), k (size,)."""
    comps = components(counts)
    ks = np.empty(size, dtype=np.int64)
    ws = np.empty((size, comps.shape[1]), dtype=np.float32)
    for i in range(size):
        ks[i] = rng.integers(3)
        ws[i] = rng.dirichlet(comps[ks[i]] * concentration)
    return ws, ks


def dirmixe_loss(cosines: torch.Tensor, labels: torch.Tensor, s: float, prior: torch.Tensor, w: torch.Tensor,
                 k: torch.Tensor, power: float, lam: float, variance: bool) -> torch.Tensor:
    """cosines (B, E, C); prior (C,) float32; the batch's test priors w (T, C) and their experts k (T,)."""
    import torch
    import torch.nn.functional as F

    z = s * cosines
    scores = z[:, k] - torch.log(w ** power / prior ** power + 1e-9)  # (B, T, C)
    losses = F.cross_entropy(scores.permute(0, 2, 1), labels.view(-1, 1).expand(-1, len(k)),
                             reduction="none").mean(0)  # (T,): each draw's batch-mean CE
    mean = losses.mean()
    if not variance:
        return mean
    above = losses > mean
    spread = ((losses - mean) ** 2 * above).sum() / (above.sum() - 1).clamp(min=1)
    return mean + lam * spread


class DirMixEAlgorithm(ExpertAlgorithm):
    def setup(self) -> None:
        import torch

        super().setup()
        m, t = self.cfg["method"], self.train_config()
        self.s = float(m["s"])
        batches = len(self.data.train_labels) / t["batch_size"]
        size = m["dirmixe_trials"] * max(1, int(batches) if t["drop_last"] else int(np.ceil(batches)))
        rng = np.random.default_rng([t["seed"], 0xD1])  # the official pool: numpy's global generator (a deviation)
        ws, ks = prior_pool(self.data.train_counts, size, m["dirmixe_concentration"], rng)
        self.pool_w, self.pool_k = torch.from_numpy(ws), torch.from_numpy(ks)
        counts = torch.tensor(np.asarray(self.data.train_counts, dtype=np.float32))
        self.prior = (counts / counts.sum()).to(self.device)  # loss.py:295-296
        self.order, self.index, self.variance = torch.arange(size), 0, False

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
        """The epoch's order, then the pool's shuffle (start_new_epoch, loss.py:316-323) from the epoch's generator."""
        import torch

        order, rebalance = super().start_epoch(epoch, generator)
        self.order, self.index = torch.randperm(len(self.pool_k), generator=generator), 0
        self.variance = epoch >= int(0.8 * (self.train_config()["epochs"] + 1))
        return order, rebalance

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next `trials` draws of the shuffled pool (wrapping around if an epoch ever has more batches than the
        pool was drawn for: a sampler of another length; the official code would run short)."""
        import torch

        m = self.cfg["method"]
        take = self.order[(self.index + torch.arange(m["dirmixe_trials"])) % len(self.order)]
        self.index += m["dirmixe_trials"]
        w, k = self.pool_w[take].to(self.device), self.pool_k[take].to(self.device)
        cosines = self.expert_outputs(s, images)
        loss = dirmixe_loss(cosines, labels, self.s, self.prior, w, k, m["dirmixe_power"], m["dirmixe_lambda"],
                            self.variance)
        s.optimize(loss)
        return loss.detach(), cosines.mean(1).detach()

    def position_state(self) -> Any:
        return json.dumps({"pool_index": self.index})

    def restore_position(self, state: Any) -> None:
        if state is not None:
            self.index = json.loads(state)["pool_index"]


_DIRMIXE = "scongl/DirMixE configs/train/cifar100.json"

DIRMIXE_PARAMS = (
    Param("dirmixe_lambda", 5.0, "lambda: weight of the upper semi-variance of the draws' losses (from 80% of the "
          "epochs on); CIFAR-10-LT 15, ImageNet-LT 1", source=_DIRMIXE + " lambda_var 5",
          check=lambda v: 0 <= v <= 1000, phrase="in [0, 1000]", search=Search("log", 0.5, 20.0)),
    Param("dirmixe_power", 1.3, "p: each draw's adjustment log((w / pi)^p) (ImageNet-LT 1.6)",
          source=_DIRMIXE + " power 1.3", check=lambda v: 0 <= v <= 10, phrase="in [0, 10]",
          search=Search("linear", 0.8, 2.0)),
    Param("dirmixe_trials", 60, "test priors drawn for each batch", source="scongl/DirMixE model/loss.py:290 trials=60",
          check=lambda v: 1 <= v <= 10000, phrase="from 1 to 10000"),
    Param("dirmixe_concentration", 10000.0, "the Dirichlet's total concentration around each component (alpha_sum)",
          source="scongl/DirMixE model/loss.py:290 alpha_sum=10000", check=lambda v: 0 < v <= 1e9,
          phrase="in (0, 1e9]"),
)


PART = Part("algorithm", "dirmixe", "DirMixE: SADE's three experts, each trained on logit-adjusted losses for test "
            "priors drawn from a Dirichlet around its component (long-tailed, uniform, inverse), with the upper "
            "semi-variance of the draws' losses late in training; the prediction is their mean",
            params=(EXPERTS, REDUCE_EXPERTS, *DIRMIXE_PARAMS, S),
            source="Yang et al., ICML 2024; scongl/DirMixE model/loss.py LogitAdjustExpertLoss, trainer/trainer.py",
            build=lambda: DirMixEAlgorithm,
            probability_scale="s",
            traits=Traits(experts=True, fixed_experts=3, no_mix="DirMixE trains its experts on plain batches",
                          step_cost=1.5, own_loss="its experts' logit-adjusted losses for Dirichlet test priors"))
