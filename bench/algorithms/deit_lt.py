"""DeiT-LT (Rangwani et al., CVPR 2024) as val-iisc/DeiT-LT @ bc36970 trains it: a ViT student with a class and a
distillation token (bench.models.deit), trained from scratch, distilled from a CNN teacher that is a finished bench
run (the method's parent: its final epoch, frozen, in eval mode).

One step (engine.py:60-250, losses.py:14-115, main.py:158-172, 236-238, 331-355, 421-474):

    1. RandomErasing per image (timm's, 'pixel' mode: probability method.deit_erasing, one box of 2-33% of the
       area, aspect ratio log-uniform in [0.3, 1/0.3], filled with N(0, 1) noise in the student's normalised space);
    2. before the deferral epoch (method.defer_epoch), and after it with method.deit_mix_deferred, timm's Mixup /
       CutMix in batch mode: with probability method.deit_switch_prob CutMix (lambda ~ Beta(deit_cutmix_alpha),
       a box pasted from the reversed batch, lambda corrected to the area kept), else mixup (lambda ~
       Beta(deit_mixup_alpha), x lam + x.flip(0) (1 - lam)); targets lam y + (1 - lam) y.flip(0), each y one-hot
       smoothed by method.deit_smoothing;
    3. the teacher's hard label t = argmax teacher(x), x the mixed batch, bicubically resized to the side the
       teacher trained at (32 for CIFAR: engine.py:146-161) and normalised as it was trained;
    4. loss = (1 - alpha) base + alpha CE(z_dist, t), base = the soft-target CE of the class token's logits on the
       mixed targets, or plain CE on the labels when the batch is not mixed; from the deferral epoch the
       distillation CE is weighted by the class-balanced weights of the teacher's labels, (1 - beta) / (1 -
       beta^n_c) normalised to sum to C (method.deit_beta), F.cross_entropy's weighted mean;
    5. AdamW (no weight decay on 1-D parameters and tokens, bench.models.deit.weight_decay_groups).

A step is micro-batches of method.deit_micro_batch images (the official 128 per GPU, accumulated over 4 steps and
averaged over the GPUs): each micro-batch draws its own mixing and averages its own (weighted) losses, and the
gradient is the mean over the micro-batches, as the official accumulation gives it.

The prediction is the mean of the two tokens' logits. Each step draws its erasing boxes, its mixing and its seed for
drop-path from the epoch's NumPy generator (seeded with the process's rank as well, as the official seed + rank;
saved in mid-epoch checkpoints), so a resumed run trains exactly as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.algorithms.standard import StandardAlgorithm
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch
    from torch import nn

    from bench.algorithms.step import Step

_OFFICIAL = "val-iisc/DeiT-LT"


def rand_bbox(height: int, width: int, lam: float, rng: np.random.RandomState) -> tuple[int, int, int, int]:
    """(y1, y2, x1, x2): timm 0.8's rand_bbox (the official environment.yml pin), a box of side sqrt(1 - lam)
    times the image's centred at a uniform pixel, clipped to the image."""
    ratio = np.sqrt(1 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = rng.randint(0, height), rng.randint(0, width)
    return (int(np.clip(cy - cut_h // 2, 0, height)), int(np.clip(cy + cut_h // 2, 0, height)),
            int(np.clip(cx - cut_w // 2, 0, width)), int(np.clip(cx + cut_w // 2, 0, width)))


def timm_mix(x: torch.Tensor, labels: torch.Tensor, num_classes: int, m: Mapping[str, Any],
             rng: np.random.RandomState) -> tuple[torch.Tensor, torch.Tensor]:
    """timm's Mixup(mode='batch', prob=1) on a batch: (mixed images, soft targets), with timm's draws in timm's order
    from `rng` (a RandomState, as timm's np.random)."""
    import torch

    lam = 1.0
    if rng.rand() < 1.0:  # Mixup(prob=1.0): mix_prob
        cutmix = bool(rng.rand() < m["deit_switch_prob"])
        lam = float(rng.beta(m["deit_cutmix_alpha"], m["deit_cutmix_alpha"]) if cutmix else
                    rng.beta(m["deit_mixup_alpha"], m["deit_mixup_alpha"]))
    x = x.clone()
    if lam != 1.0:
        if cutmix:
            y1, y2, x1, x2 = rand_bbox(x.shape[-2], x.shape[-1], lam, rng)
            x[:, :, y1:y2, x1:x2] = x.flip(0)[:, :, y1:y2, x1:x2]
            lam = 1.0 - (y2 - y1) * (x2 - x1) / float(x.shape[-2] * x.shape[-1])
        else:
            x = x * lam + x.flip(0) * (1.0 - lam)
    off = m["deit_smoothing"] / num_classes
    y = torch.full((len(labels), num_classes), off, device=labels.device)
    y.scatter_(1, labels.long().view(-1, 1), 1.0 - m["deit_smoothing"] + off)
    return x, y * lam + y.flip(0) * (1.0 - lam)


def erase_box(height: int, width: int, probability: float, r: random.Random) -> tuple[int, int, int, int] | None:
    """timm's RandomErasing._erase draws (one box, min area 0.02, max 1/3, aspect (0.3, 1/0.3)): (top, left, h, w) or
    None (not erased, or no box fitted in 10 attempts)."""
    if r.random() > probability:
        return None
    for _ in range(10):
        area = r.uniform(0.02, 1 / 3) * height * width
        aspect = math.exp(r.uniform(math.log(0.3), math.log(1 / 0.3)))
        h, w = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if w < width and h < height:
            return r.randint(0, height - h), r.randint(0, width - w), h, w
    return None


def deit_lt_loss(cls_logits: torch.Tensor, dist_logits: torch.Tensor, targets: torch.Tensor,
                 teacher_labels: torch.Tensor, alpha: float, weight: torch.Tensor | None) -> torch.Tensor:
    """(1 - alpha) base + alpha CE(dist, teacher labels [, weight]); base: soft-target CE when `targets` are soft
    (N, C), else CE on the labels (losses.py:34-115 DistillationLoss, hard)."""
    import torch.nn.functional as F

    if targets.ndim == 2:
        base = (-targets * F.log_softmax(cls_logits, dim=-1)).sum(-1).mean()  # timm SoftTargetCrossEntropy
    else:
        base = F.cross_entropy(cls_logits, targets)
    return base * (1 - alpha) + F.cross_entropy(dist_logits, teacher_labels, weight=weight) * alpha


class DeiTLTAlgorithm(StandardAlgorithm):
    def build_model(self) -> tuple[nn.Module, Iterable]:
        from bench.errors import BenchError
        from bench.models.deit import build_student, student_side, weight_decay_groups

        m = self.cfg["method"]
        self.side = student_side(m["deit_student"])
        if self.data.in_memory:  # DeiT's crop, upsampling to the student's side (datasets.py:578-611)
            a = self.cfg["augment"]
            ops = a["randaugment_ops"] if a["policy"] == "timm_randaugment_inc" else 0  # 0: no RandAugment
            self.views = (f"deit_n{ops}_m{a['randaugment_magnitude']}@{self.side}",)
        elif self.cfg["augment"]["image_size"] != self.side:
            raise BenchError(f"{m['deit_student']} reads {self.side} px images; set augment.image_size={self.side}")
        model = build_student(m["deit_student"], self.data.num_classes, m["deit_drop_path"], tuple(self.data.mean),
                              tuple(self.data.std))
        self.front = model.front  # moved to the device with the model (in place)
        return model, weight_decay_groups(model, self.cfg["train"]["weight_decay"])

    def build_optimizer(self, params: Iterable) -> torch.optim.Optimizer:
        import torch

        t = self.train_config()  # timm create_optimizer: AdamW, eps 1e-8, betas (0.9, 0.999)
        return torch.optim.AdamW(params, lr=t["lr"], weight_decay=t["weight_decay"], eps=1e-8)

    def setup(self) -> None:
        import torch

        super().setup()
        from bench.algorithms.teacher import Teacher

        self.teacher = Teacher(self.cfg, self.data, self.device, self.run_dir)
        counts = np.asarray(self.data.train_counts, dtype=np.float64)
        beta = float(self.cfg["method"]["deit_beta"])
        w = (1.0 - beta) / (1.0 - np.power(beta, counts))
        self.class_weight = torch.tensor(w / w.sum() * len(counts), dtype=torch.float32, device=self.device)
        self.rng = np.random.RandomState(0)
        self.mixing = self.rebalancing = False

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
        import torch

        from bench.algorithms.compose import process_rank

        order, self.rebalancing = super().start_epoch(epoch, generator)
        seed = int(torch.randint(0, 2**32 - 1, (1,), generator=generator))
        self.rng = np.random.RandomState((seed + process_rank()) % 2**32)  # each process its own draws (seed + rank)
        self.mixing = not self.rebalancing or bool(self.cfg["method"]["deit_mix_deferred"])
        return order, self.rebalancing

    def erase(self, x: torch.Tensor) -> torch.Tensor:
        """RandomErasing per image; the N(0, 1) fill of the student's (ImageNet-normalised) space expressed in the
        batch's normalisation (the student's input adapter maps one onto the other per channel)."""
        import torch

        front = self.front
        seeds = self.rng.randint(0, 2**31 - 1, size=len(x)).tolist()
        out = x.clone()
        for i, seed in enumerate(seeds):
            box = erase_box(x.shape[-2], x.shape[-1], self.cfg["method"]["deit_erasing"], random.Random(seed))
            if box is None:
                continue
            top, left, h, w = box
            noise = torch.randn((3, h, w), generator=torch.Generator().manual_seed(seed)).to(x.device)
            pixels = noise * front.std[0] + front.mean[0]  # the fill in pixels
            c = x.shape[1]
            out[i, :, top:top + h, left:left + w] = ((pixels[:c] - front.in_mean[0]) / front.in_std[0]).to(x.dtype)
        return out

    def prepare(self, x: torch.Tensor, labels: torch.Tensor, autocast: Any) -> tuple:
        """One micro-batch's (erased and mixed images, targets: soft when mixed, teacher's labels)."""
        x, targets = self.erase(x), labels
        if self.mixing:
            x, targets = timm_mix(x, labels, self.data.num_classes, self.cfg["method"], self.rng)
        return x, targets, self.teacher.labels(x, autocast)

    def distillation_weight(self) -> torch.Tensor | None:
        """The distillation CE's class weights: the class-balanced ones from the deferral epoch, else none."""
        return self.class_weight if self.rebalancing else None

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Micro-batches of method.deit_micro_batch, their gradients accumulated (each loss over their number), one
        optimizer step; under DDP the processes' gradients are averaged once, after the last micro-batch."""
        import torch

        m = self.cfg["method"]
        images = images[0] if isinstance(images, tuple) else images
        pieces = list(zip(images.split(m["deit_micro_batch"]), labels.split(m["deit_micro_batch"])))
        s.optimizer.zero_grad(set_to_none=True)
        total, outputs = torch.zeros((), device=labels.device), []
        for i, (x, y) in enumerate(pieces):
            x, targets, teacher_labels = self.prepare(x, y, s.autocast)
            torch.manual_seed(int(self.rng.randint(0, 2**31 - 1)))  # drop-path's draws, reproducible on resume
            with s.accumulating(last=i == len(pieces) - 1):
                with s.autocast():
                    cls_logits, dist_logits = s.net(x.contiguous(memory_format=s.memory_format))
                loss = deit_lt_loss(cls_logits.float(), dist_logits.float(), targets, teacher_labels,
                                    m["deit_alpha"], self.distillation_weight()) / len(pieces)
                s.backward(loss)
            total = total + loss.detach()
            outputs.append(((cls_logits + dist_logits) / 2).detach())
        s.step()
        return total, torch.cat(outputs)

    def position_state(self) -> Any:
        state = self.rng.get_state(legacy=False)
        state["state"]["key"] = state["state"]["key"].tolist()
        return json.dumps(state)

    def restore_position(self, state: Any) -> None:
        if state is not None:
            saved = json.loads(state)
            saved["state"]["key"] = np.asarray(saved["state"]["key"], dtype=np.uint32)
            self.rng.set_state(saved)

    def parent_record(self) -> dict | None:
        return self.teacher.record()

    def resumable(self, saved_state: dict) -> bool:
        return self.teacher.resumable(saved_state, self.run_dir)


STUDENT_NAMES = ("deit_b16_distilled", "deit_tiny_distilled")  # bench.models.deit.STUDENTS (torch-free here)
# assumed training images/s for the dry-run price until a run measures one (bench.plan.cost: labelled "assumed"): a
# rough figure for DeiT-B/16 at 224 px on one current GPU under mixed precision, and a CPU-sized one for the stand-in
ASSUMED_SPEED = {"deit_b16_distilled": 1000.0, "deit_tiny_distilled": 2000.0}
PARAMS = (
    Param("deit_student", "deit_b16_distilled", "DeiT-LT's student ViT (bench.models.deit): deit_b16_distilled, or "
          "deit_tiny_distilled, a 32 px stand-in for CPU runs", source=f"{_OFFICIAL} sh/train_*.sh --model "
          "deit_base_distilled_patch16_224", check=lambda v: v in STUDENT_NAMES, phrase=" or ".join(STUDENT_NAMES)),
    Param("deit_alpha", 0.5, "weight of the distillation token's loss; 1 - alpha on the class token's",
          source=f"{_OFFICIAL} arguments.py:310 --distillation-alpha 0.5", check=lambda v: 0 <= v <= 1,
          phrase="in [0, 1]", search=Search("linear", 0.1, 0.9)),
    Param("deit_drop_path", 0.1, "the student's stochastic depth rate", source=f"{_OFFICIAL} arguments.py:45 "
          "--drop-path 0.1", check=lambda v: 0 <= v < 1, phrase="in [0, 1)"),
    Param("deit_beta", 0.9999, "beta of the class-balanced weights on the distillation loss from the deferral "
          "epoch", source=f"{_OFFICIAL} arguments.py:422 --beta 0.9999; main.py:97-101",
          check=lambda v: 0 < v < 1, phrase="in (0, 1)"),
    Param("deit_mixup_alpha", 0.8, "timm Mixup's mixup alpha", source=f"{_OFFICIAL} arguments.py --mixup 0.8",
          check=lambda v: v > 0, phrase="positive"),
    Param("deit_cutmix_alpha", 1.0, "timm Mixup's CutMix alpha", source=f"{_OFFICIAL} arguments.py --cutmix 1.0",
          check=lambda v: v > 0, phrase="positive"),
    Param("deit_switch_prob", 0.5, "the probability that a mixed batch is CutMix-ed rather than mixed up",
          source=f"{_OFFICIAL} arguments.py --mixup-switch-prob 0.5", check=lambda v: 0 <= v <= 1,
          phrase="in [0, 1]"),
    Param("deit_smoothing", 0.1, "label smoothing of the mixed targets", source=f"{_OFFICIAL} arguments.py "
          "--smoothing 0.1", check=lambda v: 0 <= v < 1, phrase="in [0, 1)"),
    Param("deit_erasing", 0.25, "RandomErasing's probability per image", source=f"{_OFFICIAL} arguments.py "
          "--reprob 0.25 (--remode pixel, --recount 1)", check=lambda v: 0 <= v <= 1, phrase="in [0, 1]"),
    Param("deit_micro_batch", 128, "images a micro-batch: each draws its own mixing and averages its own losses, "
          "and the step's gradient is the mean over the micro-batches (the official 128 per GPU, accumulated)",
          source=f"{_OFFICIAL} sh/train_*.sh --batch-size 128 (per process), --accum-iter 4; engine.py:218-250",
          check=lambda v: isinstance(v, int) and 2 <= v <= 65536 and v % 2 == 0,
          phrase="an even number from 2 to 65536"),
    Param("deit_mix_deferred", False, "keep Mixup / CutMix and the soft-target loss after the deferral epoch (the "
          "official ImageNet-LT and iNaturalist scripts); false stops them there (the CIFAR scripts' "
          "--no-mixup-drw)", source=f"{_OFFICIAL} engine.py:81-136, main.py:453-474"),
)

PART = Part("algorithm", "deit_lt", "DeiT-LT: a ViT with a distillation token trained from scratch on erased, "
            "mixed images; its distillation token learns the hard labels of a CNN teacher (the parent run), "
            "class-balanced from the deferral epoch; prediction: the mean of both tokens' logits", params=PARAMS,
            source="Rangwani et al., CVPR 2024; val-iisc/DeiT-LT main.py, engine.py, losses.py",
            build=lambda: DeiTLTAlgorithm,
            traits=Traits(own_loss="DeiT-LT's class-token and distillation-token losses", reads_switch=True,
                          no_mix="DeiT-LT mixes its batches itself (timm's Mixup / CutMix, method.deit_*)",
                          head="linear", own_network=True, step_cost=1.2,
                          own_optimizer="AdamW (betas 0.9, 0.999, eps 1e-8; timm's create_optimizer)",
                          own_view=("DeiT's: a bicubic random resized crop at the student's side, a flip, timm's "
                                    "RandAugment with augment.policy=timm_randaugment_inc",
                                    ("none", "timm_randaugment_inc")),
                          distils_parent=True, network=lambda m: (m["deit_student"],
                                                                  ASSUMED_SPEED[m["deit_student"]])))
