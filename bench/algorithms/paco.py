"""PaCo, parametric contrastive learning (Cui et al., ICCV 2021), as dvlab-research/Parametric-Contrastive-Learning
PaCo/LT/{paco_cifar.py, moco/builder.py, losses.py} (fe56535) does it.

The network: the backbone's pooled feature h; a classifier Linear(h) with bias (its weights are PaCo's class
centres); a projection MLP Linear(f, f) - BN - ReLU - Linear(f, dim) whose output q is L2-normalised; a momentum
copy of backbone and MLP (m = 0.999, updated at the start of every training forward) that encodes the second view
into keys k; a queue of the last K keys with their labels (starting as random unit columns and random labels, as
the official code). View 1 (crop, flip, AutoAugment, Cutout) goes to the query encoder and the classifier, view 2
(the SimCLR view with blur) to the momentum encoder.

The loss, for each query i of the batch, over the contrast set A(i) = [queries, keys, queue] without i itself:

    z_ic = w_c h_i + b_c + log(pi_c + 1e-9)         (the class centres' logits, logit-adjusted, no temperature)
    s_ij = q_i . f_j / T                             (the samples' logits)
    D_i  = sum_c exp(z_ic) + gamma sum_j exp(s_ij)
    L_i  = -[beta (z_iy - log D_i) + alpha sum_{j in P(i)} (s_ij - log D_i)] / (beta + alpha |P(i)|)

P(i) the samples of A(i) with i's label; the loss is the mean of L_i. There is no other term. The prediction is
the classifier's plain logits w h + b (the log prior was inside the training softmax only).
Not reproduced: the official CIFAR warm-up gives epoch 10 a learning rate of 1.1x (bench's warm-up ends at 1x);
the official loader drops the last incomplete batch (bench keeps it; the queue takes batches of any size).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from bench.algorithms.protocol import gathered, log_prior
from bench.algorithms.standard import StandardAlgorithm
from bench.algorithms.step import Step
from bench.models.registry import MODELS
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search
from bench.runconfig import RunConfig

if TYPE_CHECKING:
    import torch
    from torch import nn


def paco_loss(q: torch.Tensor, contrast: torch.Tensor, contrast_labels: torch.Tensor, class_logits: torch.Tensor,
              labels: torch.Tensor, log_prior: torch.Tensor, alpha: float, beta: float, gamma: float,
              temperature: float) -> torch.Tensor:
    """q (B, d) the queries (also the first B rows of `contrast`, (N, d)); class_logits (B, C) = w h + b."""
    import torch
    import torch.nn.functional as F

    b, classes = class_logits.shape
    samples = q @ contrast.T / temperature  # (B, N)
    logits = torch.cat([class_logits + log_prior, samples], 1)
    logits = logits - logits.max(1, keepdim=True).values.detach()
    not_self = torch.ones_like(samples).scatter_(1, torch.arange(b, device=q.device).view(-1, 1), 0.0)
    same = (labels.view(-1, 1) == contrast_labels.view(1, -1)).float() * not_self
    positives = torch.cat([F.one_hot(labels, classes).float() * beta, same * alpha], 1)
    in_denominator = torch.cat([torch.ones_like(class_logits), gamma * not_self], 1)
    log_prob = logits - torch.log((logits.exp() * in_denominator).sum(1, keepdim=True) + 1e-12)
    return -((positives * log_prob).sum(1) / positives.sum(1)).mean()


class PaCoAlgorithm(StandardAlgorithm):
    views: tuple = ("train", "simclr_blur")  # the key view is method.paco_key_view

    def __init__(self, cfg: RunConfig, data: Any, device: torch.device, run_dir: Any):
        super().__init__(cfg, data, device, run_dir)
        self.views = ("train", cfg["method"]["paco_key_view"])

    def build_model(self) -> tuple[nn.Module, Iterable]:
        from bench.models.paconet import PaCoNet

        m = self.cfg["method"]
        backbone = MODELS.get_or_fail(self.cfg["model"]["name"]).build(self.data.in_channels)
        model = PaCoNet(backbone, self.data.num_classes, m["paco_dim"], m["paco_queue"], m["paco_momentum"])
        return model, [p for p in model.parameters() if p.requires_grad]

    def setup(self) -> None:
        super().setup()
        self.log_prior = log_prior(self.data.train_counts, self.device, eps=1e-9)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        first, second = (view.contiguous(memory_format=s.memory_format) for view in images)
        with s.autocast():
            logits, q, k = s.net(first, keys_from=second)
        m, model = self.cfg["method"], cast(Any, s.model)  # the PaCo network: its queue and encoders
        contrast = torch.cat([q.float(), k.float(), model.queue.clone()])
        contrast_labels = torch.cat([labels, labels, model.queue_labels.clone()])
        loss = paco_loss(q.float(), contrast, contrast_labels, logits.float(), labels, self.log_prior,
                         m["paco_alpha"], m["paco_beta"], m["paco_gamma"], m["paco_temperature"])
        s.optimize(loss)
        model.enqueue(gathered(k.detach().float()), gathered(labels))  # every process's keys (moco/builder.py)
        return loss.detach(), logits.detach()


_PACO = "dvlab-research/Parametric-Contrastive-Learning PaCo/LT/sh/CIFAR100_train_imb0.01.sh"


PACO_PARAMS = (
    Param("paco_alpha", 0.01, "alpha: weight of each same-class sample against the class centre's beta",
          source=_PACO, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]", search=Search("log", 0.001, 0.1)),
    Param("paco_beta", 1.0, "beta: weight of the class centre (the classifier's logit) as a positive",
          source=_PACO, check=lambda v: 0 < v <= 100, phrase="in (0, 100]"),
    Param("paco_gamma", 1.0, "gamma: weight of the samples in the softmax denominator",
          source=_PACO, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]"),
    Param("paco_temperature", 0.05, "T of the samples' logits q . k / T (ImageNet-LT: 0.2; ResNeXt-50: 0.07)",
          source=_PACO, check=lambda v: 0 < v <= 10, phrase="in (0, 10]", search=Search("log", 0.03, 0.3)),
    Param("paco_dim", 32, "dimension of the projection (ImageNet-LT: 128)", source=_PACO,
          check=lambda v: 1 <= v <= 65536, phrase="from 1 to 65536"),
    Param("paco_queue", 1024, "K: keys kept in the queue (ImageNet-LT: 8192)", source=_PACO,
          check=lambda v: 1 <= v <= 1 << 24, phrase="from 1 to 16777216"),
    Param("paco_momentum", 0.999, "m of the key encoder's moving average",
          source="PaCo/LT/paco_cifar.py (--moco-m 0.999)", check=lambda v: 0 <= v < 1, phrase="in [0, 1)"),
    Param("paco_key_view", "simclr_blur", "the key view (bench.images.views): simclr_blur (the CIFAR code's) or "
          "moco_sim (the ImageNet-LT / iNaturalist code's)", source="PaCo/LT/paco_cifar.py, paco_lt.py",
          choices=("simclr_blur", "moco_sim")),
)


PART = Part("algorithm", "paco", "PaCo: a query view through the network and a classifier whose weights are "
            "class centres, a key view through a momentum encoder, a queue of keys; one contrastive softmax over "
            "the logit-adjusted centres and the samples", params=PACO_PARAMS,
            source="Cui et al., ICCV 2021; dvlab-research/Parametric-Contrastive-Learning PaCo/LT/losses.py "
                   "PaCoLoss, moco/builder.py, paco_cifar.py",
            build=lambda: PaCoAlgorithm,
            traits=Traits(no_mix="PaCo trains on its two views", step_cost=1.4,
                          own_loss="PaCo's contrastive loss over logit-adjusted centres",
                          head="linear", own_network=True))
