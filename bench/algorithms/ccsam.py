"""CC-SAM, class-conditional sharpness-aware minimisation (Zhou et al., CVPR 2023), as zzpustc/CC-SAM @ 651d3df
(train_cifar.py, utils/utils.py, utils/pytorch.py) computes it: two stages on the CIFAR ResNet.

Stage 1 (algorithm `ccsam`, train(): train_cifar.py:115-213). One forward of the (mixed) batch; per-image losses
l_i = lam CE(z_i, y_i) + (1 - lam) CE(z_i, y_perm(i)) (mixup on, alpha 1). Only the linear classifier (W, b) is
perturbed, class by class: for each class c of the batch (grouped by the image's own label y),

    G_c = d mean_{i: y_i = c} l_i / d(W, b)                        at the unperturbed classifier
    delta_k = noise_ratio sqrt(P) Q^(1/4) / (sqrt(2) sqrt(|G_c,k|) (n_c - 1)^(1/4)) G_c,k / |G_c,k|   k = W, b apart
    flat_i = CE(f_i (W + delta_W)^T + b + delta_b, y_i)           for the images of class c, no mixing

with P = ||(W, b)||_2 the norm of the classifier's values (utils/pytorch.py grad_norm), Q its number of parameters,
n_c the class's training count. The loss is (1 - flat_ratio) mean_i l_i + flat_ratio mean_i flat_i; one backward,
one SGD step (the perturbations are constants: the flat terms' gradients are taken at the perturbed classifier).

Stage 2 (`stage.train=ccsam`, train_sample(): :40-113) on a finished stage-1 run: the backbone frozen (its BN
statistics following the class-aware batches), the classifier re-trained. With the features f (a leaf), l_i =
CE(W f_i + b, y_i); for each class c, g_c = d mean_{i: y_i = c} l_i / d f over its global Frobenius norm, and
adv_i = w_c CE(head(f_i + adver_reg w_c g_c,i), y_i) for the images of class c, w_c = ln(n_max / n_c + 0.01) / div;
the loss is a mean_i adv_i + (1 - a) mean_i l_i, a = min((e + 1) / E, up_limit) over the stage's epochs e of E.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from bench.algorithms.stage2 import Stage2Algorithm
from bench.algorithms.standard import StandardAlgorithm
from bench.errors import BenchError
from bench.parts.part import Param, Part, Stage, Traits

if TYPE_CHECKING:
    import torch

    from bench.algorithms.step import Step

_OFFICIAL = "zzpustc/CC-SAM"


def class_perturbation(grads: tuple, param_norm: torch.Tensor, count: int, params: int,
                       noise_ratio: float) -> list[torch.Tensor]:
    """train_cifar.py:158-170: each tensor's perturbation for one class (grads: its gradient per tensor)."""
    import torch

    out = []
    for g in grads:
        r = torch.norm(g)
        rho = noise_ratio * torch.sqrt(param_norm) / torch.sqrt(r) / np.sqrt(2) / np.sqrt(np.sqrt(count - 1)) \
            / np.sqrt(np.sqrt(params))
        out.append(rho * (g / r) * np.sqrt(params))
    return out


def stage1_loss(features: torch.Tensor, head: Any, per_image: torch.Tensor, labels: torch.Tensor,
                counts: np.ndarray, flat_ratio: float, noise_ratio: float) -> torch.Tensor:
    """(1 - flat_ratio) mean(per_image) + flat_ratio mean(flat losses at each class's perturbed classifier)."""
    import torch
    import torch.nn.functional as F

    weight, bias = head.weight, head.bias
    params = weight.numel() + bias.numel()
    param_norm = torch.norm(torch.stack([weight.detach().norm(), bias.detach().norm()])) + 1e-12
    flat = []
    for c in torch.unique(labels).tolist():  # np.unique's sorted order
        rows = labels == c
        grads = torch.autograd.grad(per_image[rows].mean(), [weight, bias], retain_graph=True)
        d_w, d_b = class_perturbation(grads, param_norm, int(counts[c]), params, noise_ratio)
        logits = F.linear(features[rows], weight + d_w.detach(), bias + d_b.detach())
        flat.append(F.cross_entropy(logits, labels[rows], reduction="none"))
    return (1 - flat_ratio) * per_image.mean() + flat_ratio * torch.cat(flat).mean()


def stage2_loss(features: torch.Tensor, head: Any, labels: torch.Tensor, weights: torch.Tensor, alpha: float,
                adver_reg: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(a mean(adversarial losses) + (1 - a) mean(plain losses), the plain logits); `features` detached."""
    import torch
    import torch.nn.functional as F

    f = features.detach().requires_grad_(True)
    logits = head(f)
    plain = F.cross_entropy(logits, labels, reduction="none")
    adversarial = []
    for c in torch.unique(labels).tolist():
        rows = labels == c
        loss_c = plain[rows].mean() if int(rows.sum()) > 1 else plain[rows]
        (g,) = torch.autograd.grad(loss_c.sum(), f, retain_graph=True)
        noise = adver_reg * (g / torch.norm(g)) * weights[c]
        moved = F.cross_entropy(head(f + noise), labels, reduction="none") * weights[c]
        adversarial.append(moved[rows])
    return alpha * torch.cat(adversarial).mean() + (1 - alpha) * plain.mean(), logits


class CCSAMAlgorithm(StandardAlgorithm):
    """Stage 1: one forward of the mixed batch; the flat term per class at the perturbed classifier."""

    def setup(self) -> None:
        super().setup()
        self.counts = np.asarray(self.data.train_counts)
        if (self.counts < 2).any():
            raise BenchError("CC-SAM's perturbation radius divides by (n_c - 1)^(1/4), and a class here has fewer "
                             "than 2 training images; use a dataset or imbalance ratio that keeps 2 per class")

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch.nn.functional as F

        m, model = self.cfg["method"], cast(Any, s.model)
        images, (y, partner, lam) = self.method.mix_batch(images, labels)
        with s.autocast():
            features = model[0](images.contiguous(memory_format=s.memory_format))
            logits = model[1](features)
        features, logits = features.float(), logits.float()
        per_image = F.cross_entropy(logits, y, reduction="none")
        if partner is not None:  # utils.py mixup_criterion: lam CE(z, y_a) + (1 - lam) CE(z, y_b)
            per_image = lam * per_image + (1 - lam) * F.cross_entropy(logits, partner, reduction="none")
        loss = stage1_loss(features, model[1], per_image, y, self.counts, m["ccsam_flat_ratio"],
                           m["ccsam_noise_ratio"])
        s.optimize(loss)
        return loss.detach(), logits.detach()


class CCSAMStage2Algorithm(Stage2Algorithm):
    """Stage 2: the feature-adversarial classifier re-training (train_sample)."""

    def setup(self) -> None:
        import torch

        super().setup()
        counts = np.asarray(self.data.train_counts, dtype=np.float64)
        w = np.log(counts.max() / counts + 0.01) / float(self.cfg["method"]["ccsam_div"])
        self.class_weight = torch.tensor(w, dtype=torch.float32, device=self.device)
        self.alpha = 0.0

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
        epochs = self.train_config()["epochs"]
        self.alpha = min((epoch + 1) / epochs, float(self.cfg["method"]["ccsam_up_limit"]))
        return super().start_epoch(epoch, generator)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        model = cast(Any, s.model)
        with torch.no_grad(), s.autocast():
            features = model[0](images.contiguous(memory_format=s.memory_format))
        loss, logits = stage2_loss(features.float(), model[1], labels, self.class_weight, self.alpha,
                                   float(self.cfg["method"]["ccsam_adver_reg"]))
        s.optimize(loss)
        return loss.detach(), logits.detach()


PARAMS = (
    Param("ccsam_flat_ratio", 0.3, "CC-SAM stage 1: the flat (class-wise perturbed) term's share of the loss",
          source=f"{_OFFICIAL} configs/Cifar10.json flat_ratio 0.3 (Cifar100.json: 0.5)",
          check=lambda v: 0 <= v <= 1, phrase="in [0, 1]"),
    Param("ccsam_noise_ratio", 1e-6, "CC-SAM stage 1: the scale of each class's classifier perturbation",
          source=f"{_OFFICIAL} configs/Cifar10.json, Cifar100.json noise_ratio 1e-6", check=lambda v: v > 0,
          phrase="positive"),
)
STAGE2_PARAMS = (
    Param("ccsam_div", 2.0, "CC-SAM stage 2: the class weight ln(n_max / n_c + 0.01) is divided by it",
          source=f"{_OFFICIAL} configs/*.json div 2.0 -> utils/utils.py:102", check=lambda v: v > 0,
          phrase="positive"),
    Param("ccsam_up_limit", 1.0, "CC-SAM stage 2: the cap of the adversarial term's share, which rises linearly "
          "over the stage's epochs", source=f"{_OFFICIAL} configs/Cifar10.json up_limit 1.0 (Cifar100.json: 0.3)",
          check=lambda v: 0 <= v <= 1, phrase="in [0, 1]"),
    Param("ccsam_adver_reg", 1.0, "CC-SAM stage 2: the feature perturbation's scale",
          source=f"{_OFFICIAL} configs/*.json adver_reg 1", check=lambda v: v >= 0, phrase="non-negative"),
)

PARTS = (
    Part("algorithm", "ccsam", "CC-SAM stage 1: per-image (mixed) CE plus the CE of each class's images at a "
         "classifier perturbed along that class's gradient, radius ~ (n_c - 1)^(-1/4)", params=PARAMS,
         source=f"Zhou et al., CVPR 2023; {_OFFICIAL} train_cifar.py train()", build=lambda: CCSAMAlgorithm,
         traits=Traits(own_loss="CE (mixed over two labels with mixup) plus CC-SAM's class-wise flat term",
                       one_process="the class-wise classifier gradients reuse one forward, which "
                                   "DistributedDataParallel would not average", head="linear")),
    Part("algorithm", "ccsam_stage2", "CC-SAM stage 2 (computed as stage.train=ccsam): the classifier re-trained "
         "with class-weighted adversarial feature perturbations", params=STAGE2_PARAMS,
         source=f"{_OFFICIAL} train_cifar.py train_sample()", build=None,
         traits=Traits(own_loss="CC-SAM's stage-2 loss: CE plus class-weighted CE at adversarially moved features",
                       no_mix="CC-SAM's stage 2 trains on plain class-aware batches", head="linear",
                       one_process="the class-wise feature gradients reuse one forward")),
)
STAGES = (Stage("train", "ccsam", "CC-SAM's stage 2: the classifier re-trained on the frozen backbone with "
                "class-weighted adversarial feature perturbations (method.ccsam_div, ccsam_up_limit, ccsam_adver_reg)",
                build=lambda: CCSAMStage2Algorithm,
                reads=("bn", "start", "epochs", "lr", "weight_decay", "batch_size"),
                train_section=(("schedule", "step"), ("milestone_fractions", []))),)
