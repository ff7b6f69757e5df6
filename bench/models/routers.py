"""RIDE's expert-assignment routers (Wang et al., ICLR 2021; frank-xwang/RIDE-LongTailRecognition
model/ldam_drw_resnets/ea_resnet_cifar.py): one small router per expert but the last, on a frozen multi-expert network;
the algorithm is bench/algorithms/ride_router.py."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.experts import MultiExpert

HIDDEN = 16


class Router(nn.Module):
    def __init__(self, features: int, experts: int, top_k: int, kaiming: bool):
        super().__init__()
        self.top_k = top_k
        self.feature_fcs = nn.ModuleList(nn.Linear(features, HIDDEN) for _ in range(experts - 1))
        self.decide = nn.Linear(top_k + HIDDEN, 1)
        if kaiming:  # the CIFAR model's _weights_init reaches the router's Linear weights too
            for fc in (*self.feature_fcs, self.decide):
                nn.init.kaiming_normal_(fc.weight)

    def forward(self, k: int, feature: torch.Tensor, mean_logits: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.feature_fcs[k](feature / feature.norm(dim=1, keepdim=True)))
        top = mean_logits.topk(self.top_k, dim=1).values
        return self.decide(torch.cat([top, h], 1)).squeeze(1)


def router_targets(sums: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """(routers, batch) floats: ensemble 0..i wrong and some larger ensemble right."""
    correct = torch.stack([s.argmax(1) == labels for s in sums])  # (experts, batch)
    later = torch.flip(torch.cummax(torch.flip(correct.int(), [0]), 0).values, [0]).bool()  # any of i..E-1
    return ((~correct[:-1]) & later[1:]).float()


class RoutedExperts(nn.Module):
    """A frozen multi-expert network (bench.models.experts.MultiExpert) and its router."""

    experts: MultiExpert
    router: Router

    def __init__(self, experts: MultiExpert, router: Router, s: float, pos_weight: float):
        super().__init__()
        self.experts, self.router, self.s, self.pos_weight = experts, router, s, pos_weight
        self.used: torch.Tensor | None = None  # experts each image of the last inference batch used

    def _expert(self, k: int, shared: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.experts.branches[k](shared)
        return feature, self.s * self.experts.heads[k](feature)

    def router_loss(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            shared = self.experts.trunk(x)
            outputs = [self._expert(k, shared) for k in range(len(self.experts.branches))]
            sums = list(torch.cumsum(torch.stack([z for _, z in outputs]), 0).float())
        logits = torch.stack([self.router(k, outputs[k][0].float(), sums[k] / (k + 1))
                              for k in range(len(outputs) - 1)])
        targets = router_targets(sums, labels)
        loss = F.binary_cross_entropy_with_logits(logits, targets,
                                                  pos_weight=torch.tensor(self.pos_weight, device=x.device))
        return loss, sums[-1] / len(outputs) / self.s

    def routed(self, x: torch.Tensor) -> torch.Tensor:
        """Gated inference: the mean cosine output of the experts each image used (their logits / s)."""
        shared = self.experts.trunk(x)
        feature, total = self._expert(0, shared)
        total, used = total.float(), torch.ones(len(x), dtype=torch.long, device=x.device)
        active = torch.arange(len(x), device=x.device)
        for k in range(1, len(self.experts.branches)):
            go = self.router(k - 1, feature.float(), total[active] / used[active, None]) > 0
            active, shared = active[go], shared[go]
            if not len(active):
                break
            feature, z = self._expert(k, shared)
            total[active] += z.float()
            used[active] += 1
        self.used = used
        return total / used[:, None] / self.s

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Any:
        return self.router_loss(x, labels) if labels is not None else self.routed(x)
