"""Per-batch augmentation of uint8 image tensors on the compute device, vectorised.

Same distribution as torchvision's RandomCrop(size, padding=p) (zero padding; top and
left offsets uniform in 0..2p) followed by RandomHorizontalFlip(0.5), then optional
RandomRotation, a policy (AutoAugment, RandAugment) and Cutout (bench.images.policies), then ToTensor + Normalize.
Random numbers come from an explicit CPU generator, so results do not depend on the device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class BatchAugment:
    def __init__(self, mean, std, crop_padding=4, flip=True, device="cpu", policy=None, cutout=0, rotation=0.0):
        """`rotation`: RandomRotation's degrees after the flip (0: none); `policy`: a bench.images.policies.BatchPolicy
        applied next (None: none); `cutout`: the side of Cutout's hole, applied last (0: none)."""
        channels = len(mean)
        self.policy, self.cutout, self.rotation = policy, int(cutout), float(rotation)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, channels, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, channels, 1, 1)
        self.padding = int(crop_padding)
        self.flip = bool(flip)

    def normalize(self, x):
        """uint8 (B, C, H, W) -> normalised float32, as ToTensor + Normalize."""
        return (x.float().div_(255.0) - self.mean) / self.std

    def crop(self, x, generator):
        return padded_crop(x, self.padding, generator)

    def train(self, x, generator):
        if self.padding:
            x = self.crop(x, generator)
        if self.flip:
            flips = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
            x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
        if self.rotation:
            x = self.rotate(x, generator)
        if self.policy is not None:
            x = self.policy(x, generator)
        if self.cutout:
            from bench.images.policies import cutout

            x = cutout(x, self.cutout, generator)
        return self.normalize(x)

    def rotate(self, x, generator):
        """torchvision's RandomRotation(degrees) per image: an angle uniform in [-degrees, degrees], nearest
        neighbour, zero fill, same size (its kernel, image by image)."""
        from torchvision.transforms.v2.functional import rotate

        angles = ((torch.rand(x.shape[0], generator=generator) * 2 - 1) * self.rotation).tolist()
        return torch.stack([rotate(image, angle) for image, angle in zip(x, angles)])

    def test(self, x):
        return self.normalize(x)


def padded_crop(x, p, generator):
    """RandomCrop(size, padding=p) per image: zero padding, top and left offsets uniform in 0..2p."""
    b, c, h, w = x.shape
    offsets = torch.randint(0, 2 * p + 1, (2, b), generator=generator).to(x.device)
    windows = F.pad(x, (p, p, p, p)).unfold(2, h, 1).unfold(3, w, 1)  # (B, C, 2p+1, 2p+1, H, W), a view
    return windows[torch.arange(b, device=x.device), :, offsets[0], offsets[1]]  # one window per image
