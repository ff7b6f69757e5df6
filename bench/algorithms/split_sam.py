"""SAM with the loss split by class (ImbSAM, Focal-SAM): each image's loss l_i is shared between a plain part,
weight u_c of its class c, and a sharpness-aware part, weight v_c, as both official codes do it:

    1. at w, per-image losses l_i; backward of sum_i u_{y_i} l_i / B (graph kept): g_plain, saved;
    2. backward of sum_i v_{y_i} l_i / B on the same graph: g; w <- w + rho g / (||g||_2 + 1e-12) (sam.ascend);
    3. at the perturbed weights, backward of sum_i v_{y_i} l_i / B; the old weights back exactly; the gradient plus
       g_plain steps the base optimizer (SGD with momentum and weight decay).

B is the whole batch (not a class's count). Both forward passes run in train mode (no BN switch in either code).
One process only: step 2's backward reuses step 1's forward, which DistributedDataParallel would not average.
rho is method.sam_rho, or per epoch from method.sam_rho_schedule, as SAM's.

    imbsam     u_c = 1, v_c = 0 for a class with at least method.imbsam_eta training images; u_c = 0,
               v_c = method.imbsam_tail_weight below (cool-xuan/Imbalanced_SAM imbsam.py, utils/trainval.py:110-145:
               the tail loss times 2 since its commit 94a22ba, 1 in the paper)
    focal_sam  v_c = lambda (1 - n_c / N)^gamma, u_c = 1 - v_c (scongl/Focal-SAM train_step.py:55-113,
               focal_sam.py); gamma method.focal_sam_gamma, lambda method.focal_sam_lambda

The loss part must give per-image losses (Part.per_image: ce, logit_adjust, balanced_softmax, vs, ldam).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.algorithms.sam import SAM_RHO, SAM_RHO_SCHEDULE, SAMAlgorithm, ascend, descend_back
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

    from bench.algorithms.step import Step


def imbsam_split(counts: Sequence[int], m: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) per class: the classes under imbsam_eta images are the tail, trained sharpness-aware only."""
    tail = np.asarray(counts) < m["imbsam_eta"]
    return (~tail).astype(np.float64), tail * float(m["imbsam_tail_weight"])


def focal_sam_split(counts: Sequence[int], m: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) per class: v_c = lambda (1 - pi_c)^gamma with pi_c = n_c / N, u_c = 1 - v_c."""
    counts_ = np.asarray(counts, dtype=np.float64)
    sharp = (1 - counts_ / counts_.sum()) ** float(m["focal_sam_gamma"]) * float(m["focal_sam_lambda"])
    return 1 - sharp, sharp


class SplitSAMAlgorithm(SAMAlgorithm):
    """SAM's two passes with the per-image losses split by class between a plain and a sharpness-aware part."""

    split = staticmethod(focal_sam_split)

    def setup(self) -> None:
        import torch

        super().setup()
        plain, sharp = self.split(self.data.train_counts, self.cfg["method"])
        self.plain = torch.tensor(plain, dtype=torch.float32, device=self.device)
        self.sharp = torch.tensor(sharp, dtype=torch.float32, device=self.device)

    def losses(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with s.autocast():
            logits = s.net(images)
        return self.method.loss.per_image(logits.float(), labels), logits

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.contiguous(memory_format=s.memory_format)
        per, logits = self.losses(s, images, labels)
        batch = labels.numel()
        s.optimizer.zero_grad(set_to_none=True)
        ((self.plain[labels] * per).sum() / batch).backward(retain_graph=True)
        params = [p for group in s.optimizer.param_groups for p in group["params"]]
        plain = [None if p.grad is None else p.grad.clone() for p in params]
        s.optimizer.zero_grad(set_to_none=True)
        ((self.sharp[labels] * per).sum() / batch).backward()
        moved = [p for p in params if p.grad is not None]
        before = ascend(moved, self.rho)
        s.optimizer.zero_grad(set_to_none=True)
        perturbed, _ = self.losses(s, images, labels)
        ((self.sharp[labels] * perturbed).sum() / batch).backward()
        descend_back(moved, before)
        for p, g in zip(params, plain):
            if g is not None and p.grad is not None:
                p.grad.add_(g)
        s.optimizer.step()
        return per.mean().detach(), logits.detach()


class ImbSAMAlgorithm(SplitSAMAlgorithm):
    split = staticmethod(imbsam_split)


IMBSAM_ETA = Param("imbsam_eta", 20, "ImbSAM: the classes with fewer training images are the tail (trained "
                   "sharpness-aware only; the others plainly)",
                   source="cool-xuan/Imbalanced_SAM scripts/train.py:41 (--eta 20), :142 (counts < eta)",
                   types=(int,), check=lambda v: v >= 1, phrase="a positive integer")
IMBSAM_TAIL_WEIGHT = Param("imbsam_tail_weight", 2.0, "ImbSAM: the tail loss's factor (2 since the official code's "
                           "commit 94a22ba; 1 in the paper)",
                           source="cool-xuan/Imbalanced_SAM utils/trainval.py:135,140 (2 * the tail loss)",
                           check=lambda v: v > 0, phrase="positive", search=Search("linear", 0.5, 3.0))
FOCAL_SAM_GAMMA = Param("focal_sam_gamma", 1.0, "Focal-SAM: gamma of the sharpness weight lambda (1 - n_c / N)^gamma",
                        source="scongl/Focal-SAM cifar_train_sam.py:96 (--flat_gamma 1.0); scripts/*.sh per dataset",
                        check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.0, 5.0))
FOCAL_SAM_LAMBDA = Param("focal_sam_lambda", 0.5, "Focal-SAM: lambda of the sharpness weight lambda (1 - n_c / "
                         "N)^gamma (the plain part keeps 1 minus it)",
                         source="scongl/Focal-SAM cifar_train_sam.py:97 (--sharpness 0.5); scripts/*.sh per dataset",
                         check=lambda v: v >= 0, phrase="non-negative", search=Search("linear", 0.1, 1.2))

_TRAITS = Traits(step_cost=2.0, no_fp16="two backward passes a step",
                 one_process="its second backward pass reuses the first forward pass, whose gradients "
                             "DistributedDataParallel averages over the processes only once",
                 no_mix="it weights each image's loss by its class, one label per image",
                 per_image_loss="it weights each image's loss by its class")
IMBSAM = Part("algorithm", "imbsam", "ImbSAM: SAM on the tail classes' loss only (under imbsam_eta images, times "
              "imbsam_tail_weight), plain gradient on the others'", params=(SAM_RHO, SAM_RHO_SCHEDULE, IMBSAM_ETA,
                                                                          IMBSAM_TAIL_WEIGHT),
              source="Zhou et al., ICCV 2023; cool-xuan/Imbalanced_SAM imbsam.py, utils/trainval.py",
              build=lambda: ImbSAMAlgorithm, traits=_TRAITS)
FOCAL_SAM = Part("algorithm", "focal_sam", "Focal-SAM: each image's loss split between a plain part and a SAM part "
                 "weighted lambda (1 - n_c / N)^gamma", params=(SAM_RHO, SAM_RHO_SCHEDULE, FOCAL_SAM_GAMMA,
                                                                FOCAL_SAM_LAMBDA),
                 source="Li et al., ICML 2025; scongl/Focal-SAM train_step.py, focal_sam.py",
                 build=lambda: SplitSAMAlgorithm, traits=_TRAITS)
PARTS = (IMBSAM, FOCAL_SAM)
