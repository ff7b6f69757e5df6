"""DeiT-LT's student (Rangwani et al., CVPR 2024; val-iisc/DeiT-LT deit_models/deit.py): a ViT with a class token and
a distillation token, each read by its own linear head, built with timm's VisionTransformerDistilled (the
architecture the official code reimplements; timm's initialisation, trained from scratch). In training it returns
(class-token logits, distillation-token logits); in evaluation their mean, which the official code selects and
reports (engine.py evaluate: `acc1_avg`).

    deit_b16_distilled    DeiT-B/16 at 224 px (deit_base_distilled_patch16_224: width 768, depth 12, 12 heads), the
                          student of every official script, CIFAR's 32 px images included (upsampled)
    deit_tiny_distilled   a stand-in of the same architecture for CPU tests and the zoo (32 px, patch 4, width 64,
                          depth 4, 4 heads); not a paper model

DeiTInput puts the pipeline's batch (normalised with the dataset's statistics, any side) into the student's input
space: back to pixels, grey replicated to RGB, Resize(side * 8 / 7) + CenterCrop(side) bicubically when it is not at
the student's side yet (the official test transform: Resize(256, bicubic) + CenterCrop(224); training views arrive at
the side), ImageNet's normalisation (datasets.py: every dataset, CIFAR included).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.models.clip import ClipInput

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STUDENTS: dict[str, dict[str, Any]] = {
    "deit_b16_distilled": dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "deit_tiny_distilled": dict(img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=4, mlp_ratio=2.0)}


def student_side(name: str) -> int:
    return int(STUDENTS[name]["img_size"])


class DeiTInput(ClipInput):
    """The CLIP track's input adapter with ImageNet's output statistics and a bicubic resize (see the module's doc)."""

    def __init__(self, mean: tuple, std: tuple, side: int):
        super().__init__(mean, std, side, IMAGENET_MEAN, IMAGENET_STD, bicubic=True)


class DeiTStudent(nn.Module):
    """input adapter -> distilled ViT; (class logits, distillation logits) in training, their mean in evaluation."""

    def __init__(self, front: DeiTInput, vit: nn.Module):
        super().__init__()
        self.front, self.vit = front, vit

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.vit(self.front(x))


def build_student(name: str, num_classes: int, drop_path: float, mean: tuple, std: tuple) -> DeiTStudent:
    from timm.models.deit import VisionTransformerDistilled

    vit = VisionTransformerDistilled(num_classes=num_classes, drop_path_rate=drop_path, **STUDENTS[name])
    vit.set_distilled_training(True)
    return DeiTStudent(DeiTInput(mean, std, student_side(name)), vit)


def weight_decay_groups(student: DeiTStudent, weight_decay: float) -> list[dict]:
    """AdamW's parameter groups as the official create_optimizer builds them (timm's param_groups_weight_decay with
    filter_bias_and_bn): no weight decay on 1-D parameters (biases, norms) and on the model's no_weight_decay()
    names (pos_embed, cls_token, dist_token)."""
    from timm.optim import param_groups_weight_decay

    vit: Any = student.vit
    return param_groups_weight_decay(vit, weight_decay, no_weight_decay_list=vit.no_weight_decay())
