"""Augmented views of contrastive methods (PaCo, BCL), on uint8 (B, C, H, W) batches.

`simclr_blur`: the MoCo-v2 view of PaCo's official CIFAR code (torchvision on PIL images): RandomResizedCrop(size,
scale (0.2, 1)), RandomHorizontalFlip, ColorJitter(0.4, 0.4, 0.4, 0.1) with p 0.8, RandomGrayscale(0.2), a
Gaussian blur (sigma uniform in [0.1, 2]) with p 0.5. `simclr`: BCL's SimAugment, the same without the blur and
with RandomResizedCrop's default scale (0.08, 1). `padcrop_blur`: the view of SADE's test-time aggregation on
CIFAR (Vanint/SADE-AgnosticLT test_training_cifar.py): RandomCrop(size, padding=4), the same jitter and
grayscale, the blur with p 0.2, the flip (after them in the official order: it commutes with each of them).
`moco_sim`: the key view of PaCo's ImageNet-LT / iNaturalist code (PaCo/LT/paco_lt.py 'sim'): RandomResizedCrop
(size) with the default scale (0.08, 1), ColorJitter(0.4, 0.4, 0.4, 0) always, RandomGrayscale(0.2), the blur
with p 0.5, the flip.

Every random choice has torchvision's distribution and comes from the epoch's generator (a resumed epoch draws
the same): the crop box (torchvision's get_params: 10 tries, then the clamped central crop), the flip, whether
the jitter applies, its order (a random permutation of the four operations) and factors (uniform in [0.6, 1.4],
hue in [-0.1, 0.1]), grayscale, blur and sigma. The pixels are torchvision's uint8 tensor kernels' arithmetic,
with each image's own factor: resized_crop (antialiased bilinear, image by image), brightness / contrast /
saturation blends truncated to uint8 after each operation, hue through HSV, ITU-R 601 grey, the Gaussian kernel
softmax(-(x / sigma)^2) with reflect padding and rounding. The blur's kernel is about a tenth of the image side
(3 px at 32 px), where the official PIL GaussianBlur(radius) has no cut-off. One-channel images (Fashion-MNIST)
skip saturation, hue and grayscale, as torchvision does.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

VIEWS = ("train", "simclr", "simclr_blur", "padcrop_blur", "moco_sim")
GREY = (0.2989, 0.587, 0.114)


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float luminance of uint8 RGB (torchvision's weights), not rounded."""
    r, g, b = x.float().unbind(1)
    return r.mul(GREY[0]).add_(g, alpha=GREY[1]).add_(b, alpha=GREY[2]).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """torchvision's _blend on uint8 with a per-image ratio (B, 1, 1, 1): x r + other (1 - r), clamped, truncated."""
    return (x.float() * ratio + other * (1.0 - ratio)).clamp_(0, 255).to(torch.uint8)


def _hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv

    hsv = _rgb_to_hsv(x.float() / 255.0)
    h, s, v = hsv.unbind(1)
    h = (h + shift.view(-1, 1, 1)).remainder_(1.0)
    return (_hsv_to_rgb(torch.stack((h, s, v), 1)) * (255.0 + 1.0 - 1e-3)).to(torch.uint8)  # v2's to_dtype


def _jitter_op(x: torch.Tensor, op: int, factors: torch.Tensor) -> torch.Tensor:
    """One ColorJitter operation (0 brightness, 1 contrast, 2 saturation, 3 hue) with each image's factor."""
    f = factors[:, op].view(-1, 1, 1, 1)
    colour = x.shape[1] == 3
    if op == 0:
        return (x.float() * f).clamp_(0, 255).to(torch.uint8)
    if op == 1:
        grey = _grey(x).floor_() if colour else x.float()
        return _blend(x, grey.mean((1, 2, 3), keepdim=True), f)
    if not colour:  # saturation and hue of one channel: unchanged, as torchvision (and PIL)
        return x
    if op == 2:
        return _blend(x, _grey(x).floor_(), f)
    return _hue(x, factors[:, 3])


def color_jitter(x: torch.Tensor, order: torch.Tensor, factors: torch.Tensor, on: torch.Tensor,
                 hue: bool = True) -> torch.Tensor:
    """order (B, 4) a permutation per image, factors (B, 4), on (B,) bool: ColorJitter where `on`; hue=False:
    ColorJitter(hue=0), which skips the hue operation."""
    out = x.clone()
    for step in range(4):
        for op in range(4 if hue else 3):
            rows = torch.nonzero(on & (order[:, step] == op)).flatten()
            if len(rows):
                out[rows] = _jitter_op(out[rows], op, factors[rows])
    return out


def gaussian_blur(x: torch.Tensor, kernel: int, sigma: torch.Tensor) -> torch.Tensor:
    """torchvision's gaussian_blur on uint8 with each image's sigma (B,)."""
    b, c, h, w = x.shape
    lim = (kernel - 1) / (2.0 * math.sqrt(2.0))
    grid = torch.linspace(-lim, lim, kernel, device=x.device)
    k1 = torch.softmax(-(grid.view(1, -1) / sigma.view(-1, 1)).pow(2), dim=1)  # (B, k)
    k2 = (k1.unsqueeze(2) * k1.unsqueeze(1)).repeat_interleave(c, 0).unsqueeze(1)  # (B C, 1, k, k)
    padded = F.pad(x.float().reshape(1, b * c, h, w), [kernel // 2] * 4, mode="reflect")
    return F.conv2d(padded, k2, groups=b * c).reshape(b, c, h, w).round_().to(torch.uint8)


class SimCLRView:
    """`blur`: the probability of the Gaussian blur (0: none); `scale`: RandomResizedCrop's, or None for
    RandomCrop(size, padding=4) (SADE's CIFAR view); `jitter`: the probability of ColorJitter(0.4, 0.4, 0.4, hue)."""

    def __init__(self, size: int, blur: float, scale: tuple | None = (0.2, 1.0), jitter: float = 0.8,
                 hue: float = 0.1):
        self.size, self.blur, self.scale, self.jitter, self.hue = size, blur, scale, jitter, hue
        self.kernel = max(3, int(0.1 * size) // 2 * 2 + 1)

    def crops(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        from torchvision.transforms.v2.functional import resized_crop

        from bench.images.jpeg import crop_box

        if self.scale is None:
            from bench.images.augment import padded_crop

            return padded_crop(x, 4, generator)
        b, _, h, w = x.shape
        seeds = torch.randint(0, 2**63 - 1, (b,), generator=generator).tolist()
        boxes = [crop_box(h, w, random.Random(s), scale=self.scale) for s in seeds]
        return torch.stack([resized_crop(x[i], *box, [self.size, self.size], antialias=True)
                            for i, box in enumerate(boxes)])

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b = len(x)
        x = self.crops(x, generator)
        flips = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
        order = torch.argsort(torch.rand((b, 4), generator=generator), dim=1).to(x.device)
        factors = torch.rand((b, 4), generator=generator) * 0.8 + 0.6
        factors[:, 3] = factors[:, 3].sub(0.6).div(0.8) * (2 * self.hue) - self.hue  # hue: uniform in [-h, h]
        jitter_on = (torch.rand(b, generator=generator) < self.jitter).to(x.device)
        x = color_jitter(x, order, factors.to(x.device), jitter_on, hue=self.hue > 0)
        grey_on = (torch.rand(b, generator=generator) < 0.2).to(x.device)
        if x.shape[1] == 3:
            x = torch.where(grey_on.view(-1, 1, 1, 1), _grey(x).to(torch.uint8).expand_as(x), x)
        if self.blur:
            blur_on = (torch.rand(b, generator=generator) < self.blur).to(x.device)
            sigma = (torch.rand(b, generator=generator) * 1.9 + 0.1).to(x.device)
            x = torch.where(blur_on.view(-1, 1, 1, 1), gaussian_blur(x, self.kernel, sigma), x)
        return x


def build_view(kind: str, size: int):
    """The view `kind` at side `size` (a kind with '@' names its own side: bench.images.clipviews)."""
    if "@" in kind:
        from bench.images.clipviews import ClipView

        return ClipView(kind)
    if kind == "simclr_blur":
        return SimCLRView(size, blur=0.5, scale=(0.2, 1.0))
    if kind == "padcrop_blur":
        return SimCLRView(size, blur=0.2, scale=None)
    if kind == "moco_sim":
        return SimCLRView(size, blur=0.5, scale=(0.08, 1.0), jitter=1.0, hue=0.0)
    return SimCLRView(size, blur=0.0, scale=(0.08, 1.0))
