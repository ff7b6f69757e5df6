"""The views of the foundation-model track (LIFT, shijxcs/LIFT trainer.py), on uint8 (B, C, H, W) batches.

A kind names its output side after '@' (an in-memory 32 px image becomes a 224 px view, as torchvision's
transforms upsample CIFAR's PIL images in the official code):

    rrc_flip@S        RandomResizedCrop(S) (scale (0.08, 1), ratio (3/4, 4/3), bilinear) + RandomHorizontalFlip
    deit_n{N}_m{M}@S  DeiT's training view (val-iisc/DeiT-LT datasets.py, timm's create_transform): RandomResizedCrop(S)
                      bicubic + RandomHorizontalFlip + timm's RandAugment 'rand-n{N}-m{M}-mstd0.5-inc1' (bicubic; N 0:
                      none);
                      its RandomErasing and Mixup/CutMix act on the batch (bench.algorithms.deit_lt)
    fivecrop{k}+{e}@S the k-th (0..4: top-left, top-right, bottom-left, bottom-right, centre) of FiveCrop(S) after
                      Resize(S + e): LIFT's test-time ensembling views (e = expand, 24 for ViT-B/16)

Crop boxes have torchvision's distribution (bench.images.jpeg.crop_box), drawn from the epoch's generator.
"""

from __future__ import annotations

import random

import torch


def parse(kind: str) -> tuple[str, int, int, int]:
    """'fivecrop2+24@224' -> ('fivecrop', 2, 24, 224); 'rrc_flip@224' -> ('rrc_flip', 0, 0, 224); 'deit_n2_m9@224'
    -> ('deit', 2, 9, 224) (operations, magnitude)."""
    name, side = kind.split("@")
    if name.startswith("deit_n"):
        ops, magnitude = name[len("deit_n"):].split("_m")
        return "deit", int(ops), int(magnitude), int(side)
    if name.startswith("fivecrop"):
        index, expand = name[len("fivecrop"):].split("+")
        return "fivecrop", int(index), int(expand), int(side)
    return name, 0, 0, int(side)


def is_clip_view(kind: str) -> bool:
    return "@" in kind


def tte_kinds(side: int, expand: int) -> tuple[str, ...]:
    return tuple(f"fivecrop{k}+{expand}@{side}" for k in range(5))


class ClipView:
    def __init__(self, kind: str):
        self.name, self.index, self.expand, self.side = parse(kind)
        if self.name == "deit":  # index, expand: RandAugment's operations and magnitude
            from bench.images.policies import TimmRandAugment

            self.policy = TimmRandAugment(self.index, self.expand, increasing=True, interpolation="bicubic") \
                if self.index else None

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.name == "rrc_flip":
            return self.rrc_flip(x, generator)
        if self.name == "deit":
            out = self.rrc_flip(x, generator, bicubic=True)
            return self.policy(out, generator) if self.policy is not None else out
        return self.five_crop(x)

    def rrc_flip(self, x: torch.Tensor, generator: torch.Generator, bicubic: bool = False) -> torch.Tensor:
        from torchvision.transforms.v2.functional import InterpolationMode, resized_crop

        from bench.images.jpeg import crop_box

        mode = InterpolationMode.BICUBIC if bicubic else InterpolationMode.BILINEAR
        b, _, h, w = x.shape
        seeds = torch.randint(0, 2**63 - 1, (b,), generator=generator).tolist()
        boxes = [crop_box(h, w, random.Random(s)) for s in seeds]
        out = torch.stack([resized_crop(x[i], *box, [self.side, self.side], interpolation=mode, antialias=True)
                           for i, box in enumerate(boxes)])
        flips = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        return torch.where(flips.view(-1, 1, 1, 1), out.flip(3), out)

    def five_crop(self, x: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms.v2.functional import five_crop, resize

        resized = resize(x, [self.side + self.expand], antialias=True)
        return five_crop(resized, [self.side, self.side])[self.index].contiguous()
