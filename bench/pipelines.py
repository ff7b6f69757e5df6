"""How batches reach the model: uint8 tensors augmented on the device, or JPEGs through DataLoader workers.

Both draw every random number of an epoch from that epoch's generator, so a resumed run
sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import torch

from bench.augment import BatchAugment


class TensorPipeline:
    """In-memory datasets (CIFAR, Fashion-MNIST): the whole set lives on the compute device."""

    def __init__(self, data, cfg, device):
        self.device = device
        self.augment = BatchAugment(data.mean, data.std, cfg["augment"]["crop_padding"], cfg["augment"]["flip"],
                                    device)
        self.train_x, self.train_y = data.train_x.to(device), data.train_y.to(device)
        self.test_x, self.test_y = data.test_x.to(device), data.test_y
        self.val_x = data.val_x.to(device) if getattr(data, "val_x", None) is not None else None
        self.val_labels = data.val_y if self.val_x is not None else None

    def train_batches(self, order, batch_size, generator):
        for batch in order.split(batch_size):
            batch = batch.to(self.device)
            yield self.augment.train(self.train_x[batch], generator), self.train_y[batch]

    def test_batches(self, batch_size):
        for images in self.test_x.split(batch_size):
            yield self.augment.test(images)

    def val_batches(self, batch_size):
        for images in self.val_x.split(batch_size):
            yield self.augment.test(images)

    @property
    def test_labels(self):
        return self.test_y


class ImageFiles(torch.utils.data.Dataset):
    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        from PIL import Image

        path, label = self.items[index]
        with Image.open(path) as image:
            return self.transform(image.convert("RGB")), label


def transforms(data, cfg):
    from torchvision.transforms import v2

    a = cfg["augment"]
    tail = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(data.mean), list(data.std))]
    if a.get("train_crop", "random_resized") == "resize_random":  # LDAM-DRW App. B: shorter side 256, random 224
        train = [v2.Resize(a["resize"], antialias=True), v2.RandomCrop(a["image_size"]), v2.RandomHorizontalFlip()]
    else:  # Decoupling / torchvision ImageNet recipe
        train = [v2.RandomResizedCrop(a["image_size"], antialias=True), v2.RandomHorizontalFlip()]
    if a["color_jitter"]:
        train.append(v2.ColorJitter(a["color_jitter"], a["color_jitter"], a["color_jitter"], 0))
    test = [v2.Resize(a["resize"], antialias=True), v2.CenterCrop(a["image_size"])]
    return v2.Compose(train + tail), v2.Compose(test + tail)


class ImagePipeline:
    """Image-folder datasets: JPEG decoding and torchvision transforms in DataLoader workers."""

    def __init__(self, data, cfg, device):
        self.device = device
        self.workers = cfg["loader"]["workers"]
        self.pin = cfg["loader"]["pin_memory"] and device.type == "cuda"
        train_tf, test_tf = transforms(data, cfg)
        self.train_set = ImageFiles(data.train_items, train_tf)
        self.test_set = ImageFiles(data.eval_items, test_tf)
        self.test_labels = torch.tensor([label for _, label in data.eval_items], dtype=torch.int64)
        self.val_set = ImageFiles(data.val_items, test_tf) if data.val_items else None
        self.val_labels = torch.tensor([label for _, label in data.val_items], dtype=torch.int64) \
            if data.val_items else None

    def _loader(self, dataset, batch_size, sampler=None, generator=None):
        return torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, num_workers=self.workers, pin_memory=self.pin,
            generator=generator, persistent_workers=False, drop_last=False)

    def train_batches(self, order, batch_size, generator):
        if self.workers == 0:  # transforms then use this process's RNG: seed it from the epoch's generator
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        for images, labels in self._loader(self.train_set, batch_size, order.tolist(), generator):
            yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def test_batches(self, batch_size):
        for images, _ in self._loader(self.test_set, batch_size):
            yield images.to(self.device, non_blocking=True)

    def val_batches(self, batch_size):
        for images, _ in self._loader(self.val_set, batch_size):
            yield images.to(self.device, non_blocking=True)
