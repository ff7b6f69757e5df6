"""PaCo's network (Cui et al., ICCV 2021; dvlab-research/Parametric-Contrastive-Learning moco/builder.py): the
backbone with a linear classifier and an MLP projection, a momentum copy of both for the keys, a queue of keys."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


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


class GPaCoNet(nn.Module):
    """GPaCo's network (Cui et al., TPAMI 2023; GPaCo/LT/moco/builder.py): PaCo's without the momentum encoder. The
    backbone, a linear classifier on its pooled feature, an MLP Linear - ReLU - Linear - ReLU - Linear (no BN) whose
    output is L2-normalised, a queue of keys. forward(x): the logits; forward(x, keys_from=v2): both views through the
    same network, one forward each, (logits of both views stacked, q, k)."""

    enqueue = PaCoNet.enqueue

    def __init__(self, backbone: nn.Module, num_classes: int, dim: int, queue: int):
        super().__init__()
        features = int(backbone.out_features)  # type: ignore[arg-type]
        self.backbone, self.classifier = backbone, nn.Linear(features, num_classes)
        self.projector = nn.Sequential(nn.Linear(features, features), nn.ReLU(), nn.Linear(features, features),
                                       nn.ReLU(), nn.Linear(features, dim))
        self.register_buffer("queue", F.normalize(torch.randn(queue, dim), dim=0))  # as the official init
        self.register_buffer("queue_labels", torch.randint(num_classes, (queue,)))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor, keys_from: torch.Tensor | None = None):
        h = self.backbone(x)
        if keys_from is None:
            return self.classifier(h)
        h_k = self.backbone(keys_from)
        q, k = F.normalize(self.projector(h), dim=1), F.normalize(self.projector(h_k), dim=1)
        return torch.cat([self.classifier(h), self.classifier(h_k)]), q, k
