"""BCL, balanced contrastive learning (Zhu et al., CVPR 2022), as FlamieZhu/Balanced-Contrastive-Learning
(f72d070) main.py, loss/contrastive.py BalSCL, loss/logitadjust.py and models/resnext.py BCLModel do it.

The network: the backbone's pooled feature h; a cosine classifier (NormedLinear, W of shape (features, classes),
logits s cos with s = 30); a projection head Linear(f, hidden) - BN - ReLU - Linear(hidden, dim), L2-normalised;
a second head of the same shape, head_fc, that maps the classifier's raw class vectors W^T to the class
prototypes c = normalize(head_fc(W^T)) (not detached: the contrastive loss trains the classifier too). The three
views of a batch (view 0: the classification view, crop + flip + the augment section's policy and Cutout; views
1 and 2: SimAugment) go through the network in one forward pass (BN statistics over all of them).

    loss = alpha CE(s cos_0 + log pi, y) + beta BalSCL

BalSCL over the 2B contrastive features z (anchors) and the contrast set A = [z, c_1..c_C] (every class's
prototype, present or not): s_ik = z_i . a_k / T, the anchor itself left out; positives P(i) the members of A
with i's label; the denominator averages over each class, D_i = sum_j mean_{k in A_j, k != i} exp(s_ik), class j
counting 2 b_j + 1 members (its batch samples' two views and its prototype); L_i = -mean_{p in P(i)} (s_ip -
log D_i), averaged over the 2B anchors. The prediction is the plain classifier logits (no adjustment).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bench.algorithms.protocol import log_prior
from bench.algorithms.standard import StandardAlgorithm
from bench.algorithms.step import Step
from bench.models.registry import MODELS
from bench.parts.losses.ldam import S
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch
    from torch import nn



def balanced_contrastive_loss(features: torch.Tensor, centers: torch.Tensor, labels: torch.Tensor,
                              temperature: float) -> torch.Tensor:
    """features (2B, d): the two views' features, view 1 then view 2; centers (C, d); labels (B,)."""
    import torch

    classes = centers.shape[0]
    anchor_labels = labels.repeat(2)
    contrast_labels = torch.cat([anchor_labels, torch.arange(classes, device=labels.device)])
    n = len(anchor_labels)
    logits = features @ torch.cat([features, centers]).T / temperature  # (2B, 2B + C)
    logits = logits - logits.max(1, keepdim=True).values.detach()
    not_self = torch.ones_like(logits).scatter_(1, torch.arange(n, device=labels.device).view(-1, 1), 0.0)
    same = (anchor_labels.view(-1, 1) == contrast_labels.view(1, -1)).float()
    positives = same * not_self
    members = torch.bincount(contrast_labels, minlength=classes).float()[contrast_labels]  # (2B + C,)
    per_member = members.view(1, -1) - same  # the anchor's own class counts one less (the anchor itself)
    denominator = (logits.exp() * not_self / per_member).sum(1, keepdim=True)
    log_prob = logits - torch.log(denominator)
    return -((positives * log_prob).sum(1) / positives.sum(1)).mean()


class BCLAlgorithm(StandardAlgorithm):
    views = ("train", "simclr", "simclr")

    def build_model(self) -> tuple[nn.Module, Iterable]:
        from bench.models.bclnet import BCLNet

        m = self.cfg["method"]
        backbone = MODELS.get_or_fail(self.cfg["model"]["name"]).build(self.data.in_channels)
        model = BCLNet(backbone, self.data.num_classes, m["bcl_hidden"], m["bcl_dim"])
        return model, model.parameters()

    def setup(self) -> None:
        super().setup()
        self.log_prior = log_prior(self.data.train_counts, self.device)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch
        import torch.nn.functional as F

        m, b = self.cfg["method"], len(labels)
        batch = torch.cat(images).contiguous(memory_format=s.memory_format)
        with s.autocast():
            cosines, features, prototypes = s.net(batch, contrastive=True)
        logits = m["s"] * cosines[:b].float()
        loss = (m["bcl_alpha"] * F.cross_entropy(logits + self.log_prior, labels)
                + m["bcl_beta"] * balanced_contrastive_loss(features[b:].float(), prototypes.float(), labels,
                                                            m["bcl_temperature"]))
        s.optimize(loss)
        return loss.detach(), cosines[:b].detach()


_BCL_CIFAR = ("the CIFAR setting the paper is cited with (no CIFAR code in FlamieZhu/Balanced-Contrastive-Learning; "
              "sumyeongahn/CUDA_LTR, YuMJie/ConCutMix)")


BCL_PARAMS = (
    Param("bcl_alpha", 2.0, "alpha: weight of the logit-adjusted cross-entropy on the classification view "
          "(ImageNet-LT, iNaturalist: 1.0)", source=_BCL_CIFAR, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]",
          search=Search("linear", 0.5, 3.0)),
    Param("bcl_beta", 0.6, "beta: weight of the balanced contrastive loss (ImageNet-LT, iNaturalist: 0.35)",
          source=_BCL_CIFAR, check=lambda v: 0 <= v <= 100, phrase="in [0, 100]", search=Search("linear", 0.2, 1.0)),
    Param("bcl_temperature", 0.1, "T of the contrastive logits (ImageNet-LT, iNaturalist: 0.07)", source=_BCL_CIFAR,
          check=lambda v: 0 < v <= 10, phrase="in (0, 10]", search=Search("log", 0.05, 0.2)),
    Param("bcl_hidden", 512, "hidden width of the projection head and head_fc (ImageNet models: 2048)",
          source="FlamieZhu/Balanced-Contrastive-Learning issue 7 (CIFAR ResNet-32: 64 -> 512 -> 128)",
          check=lambda v: 1 <= v <= 65536, phrase="from 1 to 65536"),
    Param("bcl_dim", 128, "dimension of the contrastive features and prototypes (ImageNet models: 1024)",
          source="FlamieZhu/Balanced-Contrastive-Learning issue 7", check=lambda v: 1 <= v <= 65536,
          phrase="from 1 to 65536"),
)


PART = Part("algorithm", "bcl", "BCL: a classification view (logit-adjusted CE on a cosine classifier) and two "
            "contrastive views with a class-averaged, class-complemented supervised contrastive loss whose "
            "prototypes come from the classifier's weights", params=(*BCL_PARAMS, S),
            source="Zhu et al., CVPR 2022; FlamieZhu/Balanced-Contrastive-Learning loss/contrastive.py BalSCL, "
                   "loss/logitadjust.py, models/resnext.py BCLModel",
            build=lambda: BCLAlgorithm,
            probability_scale="s",
            traits=Traits(no_mix="BCL trains on its three views", step_cost=3.0,
                          own_loss="BCL's logit-adjusted CE and balanced contrastive loss",
                          head="normed", own_network=True))
