"""`bench perf --pipeline imagelist`: bench's image-list loader against the reference pipeline.

On a generated JPEG fixture (default 2,000 images of 500x375 or 375x500, quality 90, 100 classes,
written to a temporary folder), in one process and with the same number of DataLoader workers:
  (a) bench's training loader: batches of the Decoupling ImageNet-LT augmentation (RandomResizedCrop(224),
      flip, ColorJitter(0.4, 0.4, 0.4)), normalised on the device: what the model step receives;
  (b) the reference pipeline (Decoupling / OLTR / LDAM-DRW code): PIL open + convert, torchvision
      RandomResizedCrop, RandomHorizontalFlip, ColorJitter, ToTensor, Normalize, DataLoader(shuffle);
  (c) bench's evaluation loader (Resize(256) + CenterCrop(224)) and (d) the reference's evaluation
      transform. Loaders only: no model step; both yield float32 (B, 3, 224, 224) batches on the device.
Timing: after one untimed round (workers start, the page cache fills), three rounds in which a, b, c, d
each read the whole fixture once, in turns, so a machine whose speed drifts (shared or throttled CPUs)
slows all four alike; each figure is images over seconds summed over its three passes. The reference
loaders keep their workers between passes (the reference code starts them every epoch), so neither
side pays worker start-up. The command prints a/b and c/d.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.datasets.imagelist import IMAGENET_MEAN, IMAGENET_STD, ImageListData

ROUNDS = 3  # timed passes of each loader, taken in turns after one untimed round


def natural_image(width, height, rng):
    """Pixels with a roughly 1/f spectrum (coarse shapes, fine texture, sensor noise): JPEG files of about
    the size and decode cost of photographs at this resolution, unlike flat colours or white noise."""
    from PIL import Image

    image = np.zeros((height, width, 3), np.float32)
    for cells, amplitude in ((4, 90), (16, 50), (64, 30), (256, 40)):
        grid = rng.normal(0, 1, (max(2, height * cells // 500), max(2, width * cells // 500), 3))
        grid = ((grid - grid.min()) / (np.ptp(grid) + 1e-6) * 255).astype(np.uint8)
        up = np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC), np.float32)
        image += (up - 128) * amplitude / 128
    image += rng.normal(0, 8, image.shape)
    return np.clip(image + 128, 0, 255).astype(np.uint8)


def write_fixture(folder, images=2000, classes=100, quality=90, seed=0):
    """[(path, label)] of `images` JPEGs (two thirds landscape 500x375, one third portrait)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    items = []
    for i in range(images):
        label = i % classes
        width, height = (500, 375) if i % 3 else (375, 500)
        path = folder / f"{label:03d}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(natural_image(width, height, rng)).save(path, quality=quality)
        items.append((str(path), label))
    return items


def _pass(batches):
    """(images, seconds) of one whole pass over a loader."""
    start, seen = time.perf_counter(), 0
    for batch in batches:
        seen += len(batch[0] if isinstance(batch, (tuple, list)) else batch)
    return seen, time.perf_counter() - start


def reference_loaders(items, workers, batch, device):
    import torchvision.transforms as T
    from PIL import Image

    normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4, 0),
                       T.ToTensor(), normalize])
    test = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), normalize])

    class Files(torch.utils.data.Dataset):  # the reference LT_Dataset
        def __init__(self, transform):
            self.transform = transform

        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            path, label = items[i]
            with open(path, "rb") as f:
                image = Image.open(f).convert("RGB")
            return self.transform(image), label

    # persistent workers (the reference code starts them every epoch): its passes after the first are
    # timed without start-up, as bench's are
    kw = dict(batch_size=batch, num_workers=workers, pin_memory=device.type == "cuda",
              persistent_workers=workers > 0)
    return (torch.utils.data.DataLoader(Files(train), shuffle=True, **kw),
            torch.utils.data.DataLoader(Files(test), shuffle=False, **kw))


def to_device(loader, device):
    for x, y in loader:
        yield x.to(device, non_blocking=True), y


def run_image_perf(device_name="auto", images=2000, workers="auto", batch_size=128, folder=None):
    from bench.engine.runtime import epoch_generator, resolve_device
    from bench.images.imagefiles import worker_count
    from bench.images.pipelines import ImagePipeline
    from bench.perf.training import cpu_description
    from bench.plan.config import resolve

    if images < 1:
        from bench.errors import BenchError

        raise BenchError("--images must be at least 1 for the image-list pipeline (default 2000)")
    device = resolve_device(device_name)
    workers = worker_count(workers)
    cfg = resolve("erm", "imagenet_lt", 0, presets=["imagenet_lt_resnext50"],
                  sets=[f"loader.workers={workers}"])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        items = write_fixture(folder or tmp, images)
        size = sum(Path(p).stat().st_size for p, _ in items) / len(items) / 1024
        print(f"bench perf --pipeline imagelist: {len(items)} JPEGs (500x375, quality 90, mean {size:.0f} KB), "
              f"written in {time.perf_counter() - start:.0f} s; batch {batch_size}, {workers} workers, device "
              f"{device}; {cpu_description()}", flush=True)
        data = ImageListData("perf", 100, items, items, "test", IMAGENET_MEAN, IMAGENET_STD, "")
        pipe = ImagePipeline(data, cfg, device)
        order = torch.randperm(len(items), generator=torch.Generator().manual_seed(0))
        ref_train, ref_test = reference_loaders(items, workers, batch_size, device)
        loaders = {"a": lambda r: pipe.train_batches(order, batch_size, epoch_generator(0, r)),
                   "b": lambda r: to_device(ref_train, device),
                   "c": lambda r: pipe.test_batches(batch_size),
                   "d": lambda r: to_device(ref_test, device)}
        totals = {key: [0, 0.0] for key in loaders}
        for r in range(ROUNDS + 1):  # round 0 starts the workers and fills the page cache: not timed
            for key, passes in loaders.items():
                seen, seconds = _pass(passes(r))
                if r:
                    totals[key][0] += seen
                    totals[key][1] += seconds
        rows = {key: seen / seconds for key, (seen, seconds) in totals.items()}
        for key, label in (("a", "bench training loader"), ("b", "reference training pipeline"),
                           ("c", "bench evaluation loader"), ("d", "reference evaluation pipeline")):
            print(f"({key}) {label:34s}{rows[key]:8.0f} img/s", flush=True)
        ref_train = ref_test = None  # their workers stop
        pipe = None  # type: ignore[assignment]  # its persistent workers stop before the folder goes
    print(f"a/b = {rows['a'] / rows['b']:.2f} (target >= 2)   c/d = {rows['c'] / rows['d']:.2f}", flush=True)
    return rows
