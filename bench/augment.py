"""Per-batch augmentation of uint8 image tensors on the compute device, vectorised.

Same distribution as torchvision's RandomCrop(size, padding=p) (zero padding; top and
left offsets uniform in 0..2p) followed by RandomHorizontalFlip(0.5), then ToTensor +
Normalize. Random numbers come from an explicit CPU generator, so results do not
depend on the device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class BatchAugment:
    def __init__(self, mean, std, crop_padding=4, flip=True, device="cpu"):
        channels = len(mean)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, channels, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, channels, 1, 1)
        self.padding = int(crop_padding)
        self.flip = bool(flip)

    def normalize(self, x):
        """uint8 (B, C, H, W) -> normalised float32, as ToTensor + Normalize."""
        return (x.float().div_(255.0) - self.mean) / self.std

    def crop(self, x, generator):
        p = self.padding
        b, c, h, w = x.shape
        offsets = torch.randint(0, 2 * p + 1, (2, b), generator=generator).to(x.device)
        padded = F.pad(x, (p, p, p, p))
        rows = (offsets[0].view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1)
        cols = (offsets[1].view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w)
        batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
        chans = torch.arange(c, device=x.device).view(1, c, 1, 1)
        return padded[batch, chans, rows, cols]

    def train(self, x, generator):
        if self.padding:
            x = self.crop(x, generator)
        if self.flip:
            flips = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
            x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
        return self.normalize(x)

    def test(self, x):
        return self.normalize(x)
