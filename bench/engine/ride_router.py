"""RIDE's expert-assignment router (Wang et al., ICLR 2021, stage 2), as frank-xwang/RIDE-LongTailRecognition
model/ldam_drw_resnets/ea_resnet_cifar.py and model/fb_resnets/EAResNet.py do it.

A child of a finished `ride` run. Its experts stay frozen (BN in eval mode); one router per expert but the last
decides whether the next expert runs. Router k reads expert k's pooled feature, L2-normalised, through its own
Linear(features, 16) + ReLU, and the top-K values (sorted, descending) of the mean s-scaled logits of experts
0..k (K = method.ride_router_top_k: 30 on CIFAR and ResNet-10, 50 on ResNet-50 / ResNeXt-50; at most the
number of classes); one Linear(K + 16, 1) shared by every router gives the logit of "the next expert helps".

Training (every expert runs on every image): with S_i the sum of the logits of experts 0..i and c_i whether
argmax S_i is right, router i's target is (not c_i) and (c_j for some j > i); the loss is the binary cross-entropy
with logits and pos_weight (method.ride_router_pos_weight, 100), averaged over the batch and the routers. The
official recipe: 5 epochs, SGD lr 0.01 Nesterov momentum 0.9, weight decay 5e-4, batch 512, cosine to 0, a
class-balanced sampler (bench's class_uniform: classes drawn uniformly, images i.i.d. within a class; the official
BalancedSampler cycles each class's shuffled list).

Inference: expert 0 runs on every image; router k sends an image on to expert k + 1 when its logit is above 0
(sigmoid above 0.5), and an image that stops never resumes; the prediction is the mean of the logits of the
experts it used. The result reports the share of test images that used 1, 2, ... experts.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.engine.hooks import Hook
from bench.engine.stage2 import Stage2Algorithm
from bench.engine.step import Step
from bench.errors import BenchError
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


class FrozenExperts(Hook):
    """The experts' BN statistics stay as the parent left them: eval mode after each model.train()."""

    def before_train_epoch(self, t: Any, epoch: int) -> None:
        t.model.experts.eval()


class RouterAlgorithm(Stage2Algorithm):
    """Stage 2 on a finished ride run: only the router trains (the parent's weights loaded, every expert frozen)."""

    def build_model(self):
        from bench.engine.experts import ExpertAlgorithm
        from bench.store import checkpoint

        m, parent = self.cfg["method"], self.stage.parent
        experts, _ = ExpertAlgorithm(self.cfg, self.data, self.device, self.run_dir).build_model()
        ckpt = checkpoint.load_final(self.stage.parent_dir, (parent.get("last") or {}).get("epoch"),
                                     torch.device("cpu"), parent.get("method") or "ride")
        try:
            experts.load_state_dict(ckpt["model"])
        except RuntimeError:  # planning refuses what shapes it otherwise (bench.plan.runs.check_parent_model)
            raise BenchError(f"parent run {self.stage.parent_dir.name} has another network than this router loads "
                             "(experts, heads); run the ride parent this child names") from None
        for p in experts.parameters():
            p.requires_grad_(False)
        top_k = min(int(m["ride_router_top_k"]), self.data.num_classes)
        kaiming = self.cfg["model"]["name"] in ("resnet32", "small_cnn")  # the CIFAR model's init
        router = Router(experts.out_features, len(experts.branches), top_k, kaiming)
        model = RoutedExperts(experts, router, float(m["s"]), float(m["ride_router_pos_weight"]))
        return model, router.parameters()

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.contiguous(memory_format=s.memory_format)
        with s.autocast():
            loss, mean = s.net(images, labels)
        s.optimize(loss.float())
        return loss.detach(), mean.detach()

    def predict(self, model: nn.Module, pipe: Any, batch_size: int, autocast: Any, split: str = "test"):
        assert isinstance(model, RoutedExperts)
        counts = torch.zeros(len(model.experts.branches), dtype=torch.long)

        class Counting(nn.Module):  # the shared predict loop, counting the experts each batch used
            def __init__(self):
                super().__init__()
                self.inner = model

            def forward(self, x):
                out = model(x)
                counts.add_(torch.bincount(model.used.cpu() - 1, minlength=len(counts)))
                return out

        logits = super().predict(Counting(), pipe, batch_size, autocast, split)
        if split == "test":
            self.usage = (counts.double() / counts.sum()).tolist()
        return logits

    def evaluation_extra(self) -> dict:
        """The share of test images that used 1, 2, ... experts, and the mean number."""
        usage = getattr(self, "usage", None)
        if usage is None:
            return {}
        return {"experts_used_share": usage,
                "experts_used_mean": sum((k + 1) * p for k, p in enumerate(usage))}

    def result_extra(self, last: dict) -> dict:
        if "experts_used_share" not in last:
            return {}
        return {"routing": {k: last[k] for k in ("experts_used_share", "experts_used_mean")}}

    def hooks(self) -> list:
        return [FrozenExperts()]
