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

import copy
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from bench.engine.algorithm import StandardAlgorithm, log_prior
from bench.engine.step import Step
from bench.models.registry import MODELS


def paco_loss(q: torch.Tensor, contrast: torch.Tensor, contrast_labels: torch.Tensor, class_logits: torch.Tensor,
              labels: torch.Tensor, log_prior: torch.Tensor, alpha: float, beta: float, gamma: float,
              temperature: float) -> torch.Tensor:
    """q (B, d) the queries (also the first B rows of `contrast`, (N, d)); class_logits (B, C) = w h + b."""
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


def _projector(features: int, dim: int) -> nn.Sequential:
    last = nn.Linear(features, dim)
    nn.init.kaiming_normal_(last.weight)  # the backbone's init of its fc, which the official MLP ends with
    return nn.Sequential(nn.Linear(features, features), nn.BatchNorm1d(features), nn.ReLU(), last)


class PaCoNet(nn.Module):
    """forward(x): the classifier's logits; forward(x, keys_from=v2): (logits, q, k) and a momentum update."""

    def __init__(self, backbone: nn.Module, num_classes: int, dim: int, queue: int, momentum: float):
        super().__init__()
        features = int(backbone.out_features)  # type: ignore[arg-type]
        self.backbone, self.projector = backbone, _projector(features, dim)
        self.classifier = nn.Linear(features, num_classes)
        self.key_backbone, self.key_projector = copy.deepcopy(self.backbone), copy.deepcopy(self.projector)
        for p in (*self.key_backbone.parameters(), *self.key_projector.parameters()):
            p.requires_grad_(False)
        self.momentum = momentum
        self.register_buffer("queue", F.normalize(torch.randn(queue, dim), dim=0))  # as the official init
        self.register_buffer("queue_labels", torch.randint(num_classes, (queue,)))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor, keys_from: torch.Tensor | None = None):
        h = self.backbone(x)
        logits = self.classifier(h)
        if keys_from is None:
            return logits
        q = F.normalize(self.projector(h), dim=1)
        with torch.no_grad():
            self._momentum_update()
            k = F.normalize(self.key_projector(self.key_backbone(keys_from)), dim=1)
        return logits, q, k

    @torch.no_grad()
    def _momentum_update(self) -> None:
        for own, key in zip((*self.backbone.parameters(), *self.projector.parameters()),
                            (*self.key_backbone.parameters(), *self.key_projector.parameters())):
            key.mul_(self.momentum).add_(own.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, labels: torch.Tensor) -> None:
        """The batch's keys replace the oldest ones (a ring; any batch size)."""
        queue, queue_labels = self.get_buffer("queue"), self.get_buffer("queue_labels")
        ptr = self.get_buffer("queue_ptr")
        where = (ptr + torch.arange(len(keys), device=keys.device)) % queue.shape[0]
        queue[where] = keys.to(queue.dtype)
        queue_labels[where] = labels
        ptr.copy_((ptr + len(keys)) % queue.shape[0])


class PaCoAlgorithm(StandardAlgorithm):
    views: tuple = ("train", "simclr_blur")  # the key view is method.paco_key_view

    def __init__(self, cfg: dict, data: Any, device: torch.device, run_dir: Any):
        super().__init__(cfg, data, device, run_dir)
        self.views = ("train", cfg["method"]["paco_key_view"])

    def build_model(self):
        m = self.cfg["method"]
        backbone = MODELS.get_or_fail(self.cfg["model"]["name"]).build(self.data.in_channels)
        model = PaCoNet(backbone, self.data.num_classes, m["paco_dim"], m["paco_queue"], m["paco_momentum"])
        return model, [p for p in model.parameters() if p.requires_grad]

    def setup(self) -> None:
        super().setup()
        self.log_prior = log_prior(self.data.train_counts, self.device, eps=1e-9)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first, second = (view.contiguous(memory_format=s.memory_format) for view in images)
        with s.autocast():
            logits, q, k = s.net(first, keys_from=second)
        m, model = self.cfg["method"], cast(Any, s.model)  # the PaCo network: its queue and encoders
        contrast = torch.cat([q.float(), k.float(), model.queue.clone()])
        contrast_labels = torch.cat([labels, labels, model.queue_labels.clone()])
        loss = paco_loss(q.float(), contrast, contrast_labels, logits.float(), labels, self.log_prior,
                         m["paco_alpha"], m["paco_beta"], m["paco_gamma"], m["paco_temperature"])
        s.optimize(loss)
        model.enqueue(k.detach().float(), labels)
        return loss.detach(), logits.detach()
