"""The image lists as a DataLoader dataset: keys (split, index, seed) -> uint8 image and label.

One dataset serves the training, evaluation and selection lists, so one persistent worker pool
does all the decoding; `Plan` (the batch sampler) says which images the next pass reads. Paths live
in one numpy byte array per split: forked workers then share them instead of copying a list of
Python strings page by page (PyTorch issue #13246). A file that cannot be read or decoded comes back
as a Failure naming it and its list line; `Files.finish` turns it into one ImageError.

loader.decode=device (for CUDA: nvJPEG through TorchCodec's decode_jpeg) moves the decoding into the
training process: workers only read the bytes and draw each image's parameters from its header.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np
import torch

from bench.errors import BenchError
from bench.images import jpeg
from bench.runconfig import RunConfig


class ImageError(BenchError):
    """An image of a list cannot be read or decoded."""


class Failure(NamedTuple):
    message: str


class Split(NamedTuple):
    paths: np.ndarray  # bytes
    labels: np.ndarray  # int64
    source: str  # the list file
    unit: str  # "line" | "annotation"
    positions: np.ndarray | None  # 1-based entry of each item in its list (None: index + 1)


def worker_count(setting):
    """loader.workers: an int, or auto = the CPUs this process may use (SLURM's --cpus-per-task), at most 32."""
    if setting != "auto":
        return int(setting)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 32))


def read(path):
    with open(path, "rb") as f:
        data = bytearray(os.fstat(f.fileno()).st_size)
        f.readinto(data)
    return data


class Files(torch.utils.data.Dataset):
    def __init__(self, data, cfg: RunConfig, device):
        self.recipe = jpeg.Recipe.from_cfg(cfg)
        self.on_device = cfg["loader"]["decode"] == "device"
        self.device = device
        self.reader = getattr(data, "reader", None)  # a Hugging Face dataset's rows (bench/datasets/custom/hub.py)
        self.splits = {}
        for split, items in (("train", data.train_items), ("eval", data.eval_items), ("val", data.val_items)):
            if items:
                source, unit, positions = data.sources.get(split, ("its list", "entry", None))
                self.splits[split] = Split(np.array([os.fsencode(path) for path, _ in items]),
                                           np.array([label for _, label in items], dtype=np.int64), source, unit,
                                           None if positions is None else np.asarray(positions))

    def labels(self, split):
        return torch.from_numpy(self.splits[split].labels.copy())

    def where(self, split, index):
        s = self.splits[split]
        entry = index + 1 if s.positions is None else int(s.positions[index])
        return f"{s.unit} {entry} of {s.source}"

    def __getitem__(self, key):
        split, index, seed, views = key
        s = self.splits[split]
        path = os.fsdecode(s.paths[index])
        label = int(s.labels[index])
        try:
            data = read(path) if self.reader is None else bytearray(self.reader(path))
            if self.on_device:
                if split != "train":
                    return torch.frombuffer(data, dtype=torch.uint8).clone(), None, label
                src = jpeg.Encoded(data)
                return torch.frombuffer(data, dtype=torch.uint8).clone(), \
                    jpeg.draw(src.height, src.width, seed, self.recipe), label
            if views:  # a contrastive method's training views, or a test-time method's views of test images
                from bench.images.imageviews import view_images

                return view_images(data, seed, self.recipe, views), label
            if split == "train":
                return jpeg.train_image(data, seed, self.recipe), label
            return jpeg.eval_image(data, self.recipe), label
        except Exception as exc:  # noqa: BLE001 - any unreadable file: one message naming it
            return Failure(f"image {path} ({self.where(split, index)}) cannot be read as an image "
                           f"({type(exc).__name__}: {exc}); replace the file, or remove its line from the list")

    def finish(self, batch):
        """(uint8 (B, 3, H, W) images, labels) of a collated batch; ImageError for a failed image."""
        if isinstance(batch, Failure):
            raise ImageError(batch.message)
        if isinstance(batch[0], list):  # loader.decode=device: bytes and parameters
            datas, params, labels = batch
            return torch.stack([self.on_device_image(d, p) for d, p in zip(datas, params)]), labels
        return batch  # (images, labels), or (a tuple of images per view, labels)

    def on_device_image(self, data, params):
        """Decode on the run's device (nvJPEG on CUDA) and augment there with the worker's parameters.

        On the CPU it runs in the training process and is tested against the worker path; on CUDA
        benchmarks/gpu_check.py compares its pixels with the CPU decoder's."""
        r = self.recipe
        try:
            x = jpeg.decode_jpeg(data, self.device)
        except RuntimeError:  # not a JPEG libjpeg/nvJPEG reads: PIL on the CPU
            raw = data.numpy().tobytes()
            x = jpeg.decode_full(jpeg.Encoded(raw)).to(self.device)
        if params is None:  # evaluation: Resize + CenterCrop
            height, width = x.shape[-2:]
            return jpeg.finish(jpeg.centre(jpeg.resize(x, *jpeg.resized_size(height, width, r.resize)), r.size))
        return jpeg.policy_and_cutout(jpeg.finish(jpeg.cut(x, params, r), params), params, r)  # as the workers


def collate(samples, out=None):
    """Stack a batch (into `out` when given); a batch with a failed image is that Failure."""
    for sample in samples:
        if isinstance(sample, Failure):
            return sample
    if len(samples[0]) == 3:  # loader.decode=device: bytes and parameters travel as they are
        return [s[0] for s in samples], [s[1] for s in samples], torch.tensor([s[2] for s in samples])
    if isinstance(samples[0][0], tuple):  # several views of each image: a batch per view
        views = tuple(torch.stack([s[0][v] for s in samples]) for v in range(len(samples[0][0])))
        return views, torch.tensor([s[1] for s in samples])
    singles = [s[0] for s in samples]
    if out is not None:
        images = torch.stack(singles, out=out.view(-1)[:len(singles) * singles[0].numel()].view(len(singles),
                                                                                            *singles[0].shape))
    else:
        images = torch.stack(singles)
    return images, torch.tensor([s[1] for s in samples])


class Collate:
    """The loader's collate_fn: in a worker, batches go into a ring of `slots` shared-memory buffers that the
    worker keeps, instead of a fresh shared segment per batch (whose page faults cost a worker 0.11 ms per
    224x224 image, 6% of its time). Safe because a worker has at most prefetch_factor batches outstanding,
    and the training process is done with a batch (normalised into its own memory, or copied to pinned
    memory) before it asks for the next: slots = prefetch_factor + 2 leaves one more in hand."""

    def __init__(self, slots):
        self.slots, self.ring, self.turn = slots, [None] * slots, 0

    def __call__(self, samples):
        if torch.utils.data.get_worker_info() is None or len(samples[0]) != 2 or isinstance(samples[0][0], tuple):
            return collate(samples)  # in the training process, a failed first image, decode=device, or views
        need = len(samples) * samples[0][0].numel()
        self.turn = (self.turn + 1) % self.slots
        buf = self.ring[self.turn]
        if buf is None or buf.numel() < need:
            buf = self.ring[self.turn] = torch.empty(need, dtype=torch.uint8).share_memory_()
        return collate(samples, out=buf)


class Plan(torch.utils.data.Sampler):
    """The batch sampler of the persistent DataLoader: set() before each pass over a split."""

    def __init__(self):
        self.split, self.order, self.batch_size, self.start, self.seeds = "train", torch.zeros(0), 1, 0, None
        self.views: tuple = ()

    def set(self, split, order, batch_size, start=0, seeds=None, views=()):
        """`views`: the view kinds of each training image (bench.images.views); (): the recipe's one augmentation."""
        self.split, self.order, self.batch_size, self.start, self.seeds = split, order, batch_size, start, seeds
        self.views = tuple(views)

    def __len__(self):
        return max(0, math.ceil(len(self.order) / self.batch_size) - self.start)

    def __iter__(self):
        n, size = len(self.order), self.batch_size
        for first in range(self.start * size, n, size):
            indices = self.order[first:first + size].tolist()
            seeds = self.seeds[first:first + size].tolist() if self.seeds is not None else [0] * len(indices)
            yield [(self.split, index, seed, self.views) for index, seed in zip(indices, seeds)]
