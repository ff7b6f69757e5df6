"""`bench perf --pipeline policies`: images/s of bench's batched augmentation policies against torchvision's
transforms applied image by image (what a DataLoader worker does), on CIFAR-size uint8 images."""

from __future__ import annotations

import time

import torch

from bench.images.policies import BatchPolicy, cutout


def _rate(fn, images: int, repeat: int = 3) -> float:
    fn()  # warm-up (kernels, caches)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return images / best


def run_policy_perf(device_name: str = "auto", images: int = 1024, batch_size: int = 128) -> dict:
    from bench.engine.runtime import resolve_device

    device = resolve_device(device_name)
    x = torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, device=device)
    rows = {}
    print(f"bench perf: augmentation policies on {images} 32x32 images, batch {batch_size}, device {device}, "
          f"{torch.get_num_threads()} CPU threads", flush=True)
    for name in ("autoaugment_cifar", "autoaugment_imagenet", "randaugment"):
        policy, gen = BatchPolicy(name), torch.Generator().manual_seed(0)
        ours = _rate(lambda policy=policy, gen=gen: [policy(b, gen) for b in x.split(batch_size)], images)
        theirs = _rate(lambda policy=policy: [policy.t(image) for image in x], images)
        rows[name] = (ours, theirs)
        print(f"{name:<22} bench {ours:9.0f} img/s   torchvision per image {theirs:9.0f} img/s   "
              f"x{ours / theirs:.1f}", flush=True)
    gen = torch.Generator().manual_seed(0)
    erasing = __import__("torchvision").transforms.v2.RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0))
    ours = _rate(lambda: [cutout(b, 16, gen) for b in x.split(batch_size)], images)
    theirs = _rate(lambda: [erasing(image) for image in x], images)
    rows["cutout"] = (ours, theirs)
    print(f"{'cutout (16 px)':<22} bench {ours:9.0f} img/s   RandomErasing per image {theirs:7.0f} img/s   "
          f"x{ours / theirs:.1f}", flush=True)
    return rows
