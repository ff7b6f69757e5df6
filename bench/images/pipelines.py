"""How batches reach the model: uint8 tensors augmented on the device, or JPEGs through DataLoader workers.

Both draw every random number of an epoch from that epoch's generator, so a resumed run
sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import torch

from bench.images.augment import BatchAugment
from bench.runconfig import RunConfig


def batch_policy(augment):
    """The augment section's policy (bench.images.policies.make_policy), or None."""
    if augment.get("policy", "none") == "none":
        return None
    from bench.images.policies import make_policy

    return make_policy(augment["policy"], augment["randaugment_ops"], augment["randaugment_magnitude"])


class TensorPipeline:
    """In-memory datasets (CIFAR, Fashion-MNIST): the whole set lives on the compute device."""

    def __init__(self, data, cfg: RunConfig, device):
        self.device = device
        a = cfg["augment"]
        self.augment = BatchAugment(data.mean, data.std, a["crop_padding"], a["flip"], device, batch_policy(a),
                                    a.get("cutout", 0), a.get("rotation", 0.0))
        self.train_x, self.train_y = data.train_x.to(device), data.train_y.to(device)
        self.test_x, self.test_y = data.test_x.to(device), data.test_y
        self.val_x = data.val_x.to(device) if getattr(data, "val_x", None) is not None else None
        self.val_labels = data.val_y if self.val_x is not None else None
        self.views: dict = {}

    def train_batches(self, order, batch_size, generator, start=0, state=None, views=1):
        """Batches of the epoch's order from batch `start` on; `state`: the generator's state after the batches
        before it (a resumed epoch). With views > 1 (or a tuple of view kinds, bench.images.views) each batch's images
        are a tuple of that many augmentations, drawn one after another from the epoch's generator."""
        if state is not None:
            generator.set_state(state)
        kinds = views if isinstance(views, tuple) else ("train",) * views
        for batch in order.split(batch_size)[start:]:
            batch = batch.to(self.device)
            images = self.train_x[batch]
            if kinds == ("train",):
                yield self.augment.train(images, generator), self.train_y[batch]
            else:
                yield tuple(self.view(kind, images, generator) for kind in kinds), self.train_y[batch]

    def view(self, kind, images, generator):
        """One augmented view of a batch: `train` (crop, flip, policy, Cutout) or a bench.images.views kind."""
        if kind == "train":
            return self.augment.train(images, generator)
        if kind not in self.views:
            from bench.images.views import build_view

            self.views[kind] = build_view(kind, images.shape[-1])
        return self.augment.normalize(self.views[kind](images, generator))

    def test_batches(self, batch_size):
        for images in self.test_x.split(batch_size):
            yield self.augment.test(images)

    def test_views(self, order, batch_size, generator, kinds):
        """Tuples of augmented views (bench.images.views kinds) of the test images in `order` (test-time methods)."""
        for batch in order.split(batch_size):
            images = self.test_x[batch.to(self.device)]
            yield tuple(self.view(kind, images, generator) for kind in kinds)

    def val_batches(self, batch_size):
        if self.val_x is None:
            raise RuntimeError("val_batches without a validation split (eval.selection=best_val plans one)")
        for images in self.val_x.split(batch_size):
            yield self.augment.test(images)

    @property
    def test_labels(self):
        return self.test_y


class ImagePipeline:
    """Image-folder datasets: files decoded and augmented in DataLoader workers (bench.images.jpeg), batches of uint8
    to the device, normalised there. One persistent worker pool
    serves training and evaluation; the batch plan says which split, which images and (training) each image's
    own augmentation seed."""

    def __init__(self, data, cfg: RunConfig, device):
        from bench.images import imagefiles

        self.device = device
        self.normalize = Normalize(data.mean, data.std, device)
        self.files = imagefiles.Files(data, cfg, device)
        self.test_labels = self.files.labels("eval")
        self.val_labels = self.files.labels("val") if data.val_items else None
        self.plan = imagefiles.Plan()
        self.view_normalize: list = []
        workers = imagefiles.worker_count(cfg["loader"]["workers"])
        prefetch = 2  # DataLoader's default prefetch_factor, named: the collate ring depends on it
        self.loader = torch.utils.data.DataLoader(
            self.files, batch_sampler=self.plan, num_workers=workers, collate_fn=imagefiles.Collate(prefetch + 2),
            prefetch_factor=prefetch if workers > 0 else None,
            pin_memory=cfg["loader"]["pin_memory"] and device.type == "cuda", persistent_workers=workers > 0,
            generator=torch.Generator().manual_seed(0))  # worker seeds are unused: samples carry their own

    def _add_view_normalizers(self, n):
        while len(self.view_normalize) < n:
            self.view_normalize.append(Normalize(self.normalize.mean, self.normalize.std, self.device))

    def _batches(self):
        for batch in self.loader:
            images, labels = self.files.finish(batch)  # uint8 (B, 3, H, W), or one such batch per view
            if isinstance(images, tuple):  # each view normalised into its own buffers (valid together)
                yield tuple(self.view_normalize[v](x.to(self.device, non_blocking=True))
                            for v, x in enumerate(images)), labels
                continue
            yield self.normalize(images.to(self.device, non_blocking=True)), labels

    def train_batches(self, order, batch_size, generator, start=0, state=None, views=1):
        """With views > 1 or a tuple of view kinds (bench.images.views), each batch's images are a tuple of views, each
        drawn in the workers from the image's own seed."""
        kinds = views if isinstance(views, tuple) else ("train",) * views
        if kinds != ("train",) and self.files.on_device:  # refused before a run starts; this guards other callers
            raise ValueError("loader.decode=device draws one view per image")
        seeds = torch.randint(0, 2**63 - 1, (len(order),), generator=generator)  # one per image of the epoch
        if state is not None:
            generator.set_state(state)
        self._add_view_normalizers(len(kinds))
        self.plan.set("train", order, batch_size, start, seeds, kinds if kinds != ("train",) else ())
        for images, labels in self._batches():
            yield images, labels.to(self.device, non_blocking=True)

    def test_batches(self, batch_size):
        self.plan.set("eval", torch.arange(len(self.test_labels)), batch_size)
        for images, _ in self._batches():
            yield images

    def test_views(self, order, batch_size, generator, kinds):
        """Tuples of augmented views of the test images in `order`, drawn in the workers from a seed per image."""
        seeds = torch.randint(0, 2**63 - 1, (len(order),), generator=generator)
        self._add_view_normalizers(len(kinds))
        self.plan.set("eval", order, batch_size, 0, seeds, tuple(kinds))
        for images, _ in self._batches():
            yield images

    def val_batches(self, batch_size):
        if self.val_labels is None:
            raise RuntimeError("val_batches without a validation split (eval.selection=best_val plans one)")
        self.plan.set("val", torch.arange(len(self.val_labels)), batch_size)
        for images, _ in self._batches():
            yield images


CACHE_BYTES = 2 << 20  # float32 output normalised per pass on a CPU: about a core's share of cache


class Normalize:
    """uint8 (B, 3, H, W) -> float32 (x / 255 - mean) / std, the layout the reference's ToTensor + Normalize
    give (the trainer turns it channels-last on the device, as it does for any batch).

    Runs over whole colour planes (contiguous, vectorised). On a CPU the output is one of two reused buffers
    (a fresh 77 MB batch costs more in page faults than the arithmetic): a batch is valid until the
    next-but-one is produced, which a training or evaluation step respects."""

    def __init__(self, mean, std, device):
        self.mean, self.std = mean, std
        std = torch.tensor(std, dtype=torch.float32, device=device)
        self.scale = (1.0 / (255.0 * std)).view(1, 3, 1)
        self.shift = (-torch.tensor(mean, dtype=torch.float32, device=device) / std.view(-1)).view(1, 3, 1)
        self.reuse = device.type == "cpu"
        self.buffers: list[torch.Tensor | None] = [None, None]
        self.turn = 0

    def _output(self, shape, device):
        if not self.reuse:
            return torch.empty(shape, dtype=torch.float32, device=device)
        self.turn ^= 1
        buf = self.buffers[self.turn]
        if buf is None or buf.shape != shape:
            buf = self.buffers[self.turn] = torch.empty(shape, dtype=torch.float32, device=device)
        return buf

    def __call__(self, images):
        b, c, h, w = images.shape
        out = self._output(images.shape, images.device)
        if images.device.type != "cpu":
            out.view(b, c, h * w).copy_(images.reshape(b, c, h * w)).mul_(self.scale).add_(self.shift)
            return out
        # CPU: NumPy, a few images at a time: the copy, scale and shift of ~2 MB stay in cache (half the time
        # of three passes over a 77 MB batch), on one thread (torch's intra-op threads would spin against the
        # loader's workers for these short operations: 10x the CPU time on a busy machine)
        planes, source = out.view(b, c, h * w).numpy(), images.reshape(b, c, h * w).numpy()
        scale, shift = self.scale.numpy(), self.shift.numpy()
        step = max(1, CACHE_BYTES // (4 * c * h * w))
        for i in range(0, b, step):
            chunk = planes[i:i + step]
            chunk[...] = source[i:i + step]
            chunk *= scale
            chunk += shift
        return out
