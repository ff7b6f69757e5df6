"""Mix parts: mixup and CutMix on the device, inside the batch loop.

Every random number comes from a NumPy generator seeded once per epoch from the epoch's
torch.Generator (only when mixing is on, so methods without mixing draw exactly as before);
a resumed run therefore mixes exactly as an uninterrupted one. The loss of a mixed batch is
lam * loss(logits, y_a) + (1 - lam) * loss(logits, y_b): the lambda-combination of the loss on
each label, which keeps a margin or logit adjustment tied to the label it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

MIX_ALPHA = Param("mix_alpha", 1.0, "lambda ~ Beta(alpha, alpha) of mixup / CutMix",
                  source="BagofTricks-LT configs/cao_cifar/mixup/input_mixup/cifar10_im100_im_alpha10.yaml "
                         "(CIFAR-LT input mixup, alpha 1.0); CutMix (Yun et al. 2019) uses 1.0 too",
                  check=lambda v: v > 0, phrase="positive", search=Search("log", 0.1, 2.0))


CUTMIX_PROB = Param("cutmix_prob", 0.5, "the probability that a batch is CutMix-ed (drawn once per batch, before "
                    "lambda); else the batch trains as it is", source="clovaai/CutMix-PyTorch README (CIFAR "
                    "--cutmix_prob 0.5; ImageNet 1.0); naver-ai/cmo --mixup_prob 0.5",
                    check=lambda v: 0 <= v <= 1, phrase="in [0, 1]", search=Search("linear", 0.25, 1.0))


def cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(y1, y2, x1, x2) of a box of area about (1 - lam) H W centred at a uniform pixel, clipped to
    the image (Yun et al. 2019, clovaai/CutMix-PyTorch rand_bbox)."""
    cut = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut), int(width * cut)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    y1, y2 = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    x1, x2 = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    return int(y1), int(y2), int(x1), int(x2)


class Mixer:
    """mix(images, labels) -> (images, labels_b, lam) for one epoch."""

    def __init__(self, kind: str, alpha: float, generator: torch.Generator, prob: float = 1.0) -> None:
        import torch

        self.kind, self.alpha, self.prob = kind, float(alpha), float(prob)
        self.rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        import torch

        if self.kind == "cutmix" and not self.rng.random() < self.prob:  # clovaai train.py: r < cutmix_prob
            return images, labels, 1.0
        lam = float(self.rng.beta(self.alpha, self.alpha))
        perm = torch.from_numpy(self.rng.permutation(len(labels))).to(images.device)
        if self.kind == "mixup":
            images = lam * images + (1.0 - lam) * images[perm]
        else:  # cutmix: paste a box of the partner image; lambda = the area really kept
            height, width = images.shape[-2:]
            y1, y2, x1, x2 = cutmix_box(height, width, lam, self.rng)
            images = images.clone()
            images[..., y1:y2, x1:x2] = images[perm][..., y1:y2, x1:x2]
            lam = 1.0 - (y2 - y1) * (x2 - x1) / (height * width)
        return images, labels[perm], lam


def _build(kind: str) -> Callable[[dict, torch.Generator], Mixer]:
    if kind == "cutmix":
        return lambda m, generator: Mixer(kind, m["mix_alpha"], generator, m["cutmix_prob"])
    return lambda m, generator: Mixer(kind, m["mix_alpha"], generator)


# build(method_cfg, epoch_generator) -> Mixer, or None for no mixing
NONE = Part("mix", "none", "no batch mixing", build=lambda m, generator: None)
MIXUP = Part("mix", "mixup", "x = lam x_i + (1 - lam) x_j, lam ~ Beta(alpha, alpha)", params=(MIX_ALPHA,),
             source="Zhang et al., ICLR 2018", build=_build("mixup"))
CUTMIX = Part("mix", "cutmix", "with probability cutmix_prob, paste a box of area (1 - lam) from x_j; lam recomputed "
              "from the box pasted", params=(MIX_ALPHA, CUTMIX_PROB),
              source="Yun et al., ICCV 2019; clovaai/CutMix-PyTorch train.py", build=_build("cutmix"),
              revision=2)  # 2: applied with a probability (before: to every batch)
PARTS = (NONE, MIXUP, CUTMIX)
