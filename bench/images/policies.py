"""Augmentation policies of the newer recipes, per image, on a batch: AutoAugment (CIFAR-10 or ImageNet policy),
RandAugment, and Cutout.

AutoAugment and RandAugment use torchvision's own operations (transforms.v2 AutoAugment / RandAugment: the same
augmentation space, magnitudes, interpolation and fill) and draw what torchvision draws for each image, with
torchvision's distributions, from the epoch's generator: AutoAugment a sub-policy uniformly, each of its two
operations with its probability (rand <= p), a negative sign with probability 1/2 for signed operations;
RandAugment `ops` operations uniformly from its space, each signed with probability 1/2, at the fixed
magnitude bin. The images that drew the same operation and magnitude are transformed together by torchvision's
kernel (one call per group, not per image), which is what makes it fast on a batch and on a GPU; every image
still gets exactly the transformation torchvision would give it.

Cutout (DeVries & Taylor 2017, uoguelph-mlrg/Cutout util/cutout.py): one square hole of side `length` per
image, its centre uniform over the image, clipped at the borders, set to 0 before normalisation (the recipes
apply it after ToTensor and before Normalize, so the hole is black).
"""

from __future__ import annotations

from typing import Any

import torch

POLICIES = ("none", "autoaugment_cifar", "autoaugment_imagenet", "randaugment", "timm_randaugment",
            "timm_randaugment_inc")
IMAGENET_MEAN_255 = (124, 116, 104)  # round(255 x ImageNet mean): the fill PaCo's and BCL's RandAugment use


def make_policy(policy: str, ops: int = 2, magnitude: int = 9) -> Any:
    """The augment section's policy as a callable on (uint8 batch, generator)."""
    if policy in ("timm_randaugment", "timm_randaugment_inc"):
        return TimmRandAugment(ops, magnitude, increasing=policy == "timm_randaugment_inc",
                               interpolation="bicubic" if policy == "timm_randaugment_inc" else "random")
    return BatchPolicy(policy, ops, magnitude)


class TimmRandAugment:
    """timm's RandAugment 'rand-n{ops}-m{magnitude}-mstd0.5' (PaCo's and BCL's ImageNet-LT / iNaturalist recipes:
    PaCo/LT/randaugment.py, a copy of timm's): 15 operations drawn with replacement, each applied with p 0.5 at a
    magnitude drawn from N(magnitude, 0.5) clipped to [0, 10], relative translations, bilinear or bicubic at
    random, fill (124, 116, 104). It runs timm's own code on PIL images, one image at a time on the CPU, with
    Python's and NumPy's global generators seeded from the epoch's generator for each image (and restored after),
    so an image's draw does not depend on the worker or on the images before it.

    `increasing`: timm's '-inc1' variant (the operations whose severity grows with the magnitude: DeiT's
    'rand-m9-mstd0.5-inc1', policy timm_randaugment_inc), and `interpolation` bicubic, as DeiT's create_transform
    passes it (transforms_factory.py: aa_params['interpolation'] for any interpolation but 'random')."""

    def __init__(self, ops: int, magnitude: int, increasing: bool = False, interpolation: str = "random"):
        from timm.data.auto_augment import rand_augment_transform

        config = f"rand-n{ops}-m{magnitude}-mstd0.5" + ("-inc1" if increasing else "")
        extra: dict = {}
        if interpolation != "random":
            from timm.data.transforms import str_to_pil_interp

            extra["interpolation"] = str_to_pil_interp(interpolation)
        self.t = {3: rand_augment_transform(config, {"translate_const": 100, "img_mean": IMAGENET_MEAN_255, **extra}),
                  1: rand_augment_transform(config, {"translate_const": 100, "img_mean": IMAGENET_MEAN_255[:1],
                                                     **extra})}
        for t in self.t.values():
            for op in t.ops:
                if op.name.startswith("Posterize"):
                    op.aug_fn = posterize


    def one(self, image: torch.Tensor, seed: int) -> torch.Tensor:
        import random

        import numpy as np
        from PIL import Image

        saved = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed)
        try:
            pixels = image.permute(1, 2, 0).cpu().numpy()
            pil = Image.fromarray(pixels if image.shape[0] == 3 else pixels[:, :, 0])
            out = np.asarray(self.t[image.shape[0]](pil))
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
        return torch.from_numpy(out.copy()).reshape(image.shape[1], image.shape[2], -1).permute(2, 0, 1)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        seeds = torch.randint(0, 2**32 - 1, (len(images),), generator=generator).tolist()
        return torch.stack([self.one(x, s) for x, s in zip(images, seeds)]).to(images.device)


def posterize(img: Any, bits_to_keep: int, **_: Any) -> Any:
    """timm's posterize as the Pillow of its day ran it: 0 bits kept (PosterizeIncreasing at magnitude 10, which
    '-inc1' reaches through its magnitude noise) gives a black image, where Pillow 11 and later refuse 0 bits."""
    from PIL import Image, ImageOps

    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)


def _torchvision(policy: str, ops: int, magnitude: int) -> Any:
    from torchvision.transforms import v2

    if policy == "randaugment":
        return v2.RandAugment(num_ops=ops, magnitude=magnitude)
    which = v2.AutoAugmentPolicy.CIFAR10 if policy == "autoaugment_cifar" else v2.AutoAugmentPolicy.IMAGENET
    return v2.AutoAugment(which)


class BatchPolicy:
    """policy(images uint8 (B, C, H, W), generator) -> the batch with each image augmented on its own draw."""

    def __init__(self, policy: str, ops: int = 2, magnitude: int = 9):
        self.policy, self.ops, self.magnitude = policy, ops, magnitude
        self.t = _torchvision(policy, ops, magnitude)
        self.space = self.t._AUGMENTATION_SPACE
        self.names = tuple(self.space)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, _, h, w = images.shape
        steps = self._autoaugment_steps(b, generator) if self.policy != "randaugment" else \
            self._randaugment_steps(b, generator)
        out = images.clone()
        for names, bins, signs, on in steps:  # one step for every image, in order
            groups: dict = {}
            for i in range(b):
                if on[i]:
                    groups.setdefault((names[i], bins[i], signs[i]), []).append(i)
            for (name, bin_, sign), members in groups.items():
                rows = torch.tensor(members, device=images.device)
                out[rows] = self._apply(out[rows], name, bin_, sign, h, w)
        return out

    def _apply(self, x: torch.Tensor, name: str, bin_: int, sign: bool, h: int, w: int) -> torch.Tensor:
        magnitudes_fn, signed = self.space[name]
        bins = 10 if self.policy != "randaugment" else self.t.num_magnitude_bins
        magnitudes = magnitudes_fn(bins, h, w)
        magnitude = 0.0 if magnitudes is None else float(magnitudes[bin_]) * (-1.0 if signed and sign else 1.0)
        return self.t._apply_image_or_video_transform(x, name, magnitude, interpolation=self.t.interpolation,
                                                      fill=self.t._fill)

    def _autoaugment_steps(self, b: int, generator: torch.Generator) -> list:
        policies = self.t._policies
        chosen = torch.randint(len(policies), (b,), generator=generator).tolist()
        draws = torch.rand((b, 2, 2), generator=generator)  # per step: apply?, negative sign?
        steps = []
        for step in range(2):
            names = [policies[c][step][0] for c in chosen]
            on = [bool(draws[i, step, 0] <= policies[c][step][1]) for i, c in enumerate(chosen)]
            bins = [policies[c][step][2] if policies[c][step][2] is not None else 0 for c in chosen]
            signs = [bool(draws[i, step, 1] <= 0.5) for i in range(b)]
            steps.append((names, bins, signs, on))
        return steps

    def _randaugment_steps(self, b: int, generator: torch.Generator) -> list:
        picks = torch.randint(len(self.names), (b, self.ops), generator=generator)
        signs = torch.rand((b, self.ops), generator=generator) <= 0.5
        return [([self.names[j] for j in picks[:, k].tolist()], [self.magnitude] * b, signs[:, k].tolist(), [True] * b)
                for k in range(self.ops)]


def cutout(images: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """One length x length hole per image (centre uniform over the pixels, clipped at the borders) set to 0."""
    b, _, h, w = images.shape
    centre = torch.stack([torch.randint(h, (b,), generator=generator), torch.randint(w, (b,), generator=generator)])
    centre = centre.to(images.device)
    rows = torch.arange(h, device=images.device).view(1, h, 1)
    cols = torch.arange(w, device=images.device).view(1, 1, w)
    y, x = centre[0].view(b, 1, 1), centre[1].view(b, 1, 1)
    half = length // 2
    hole = (rows >= y - half) & (rows < y + half) & (cols >= x - half) & (cols < x + half)  # (B, H, W)
    return images.masked_fill(hole.unsqueeze(1), 0)
