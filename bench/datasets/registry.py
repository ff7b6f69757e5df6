"""Dataset registry: name -> what it is, its recipe preset, and where its loader lives.

Adding a dataset: write a loader `load(cfg) -> LongTailData` in a module of this package
and add one `DATASETS.register(...)` line below. Loaders are imported lazily. A plugin module (BENCH_PLUGINS)
declares `DATASET = DatasetInfo(..., loader=load)` with the loader in the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.registry import Registry

if TYPE_CHECKING:
    from bench.datasets.protocol import Dataset


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    recipe: str  # preset applied before the user's presets
    loader: str | Callable  # "module:function", imported on use, or the function itself (a plugin's own file)
    num_classes: int = 0  # sizes of the standard files, for cost estimates without loading data
    n_max: int = 0
    test_size: int = 0
    natural: bool = False  # a fixed published long-tailed split (no imbalance_ratio / profile)
    train_size: int = 0  # training images of the standard split (natural datasets)
    eval_split: str = "test"  # the split evaluated when dataset.eval_split is not set
    # validation protocol of eval.selection=best_val (bench.datasets.selection): "half" of the evaluation set,
    # "official" val list, or "" (none: best_val is refused)
    selection: str = "half"

    def load(self, cfg: dict) -> Dataset:
        import importlib

        if callable(self.loader):
            return self.loader(cfg)
        module, func = self.loader.split(":")
        return getattr(importlib.import_module(module), func)(cfg)


DATASETS = Registry("dataset")
DATASETS.register("cifar10_lt", DatasetInfo(
    "cifar10_lt", "CIFAR-10-LT: long-tailed subset of CIFAR-10 (python-version files), n_max 5000",
    "cifar_lt", "bench.datasets.cifar:load_cifar10_lt", 10, 5000, 10000))
DATASETS.register("cifar100_lt", DatasetInfo(
    "cifar100_lt", "CIFAR-100-LT: long-tailed subset of CIFAR-100 (python-version files), n_max 500",
    "cifar_lt", "bench.datasets.cifar:load_cifar100_lt", 100, 500, 10000))
DATASETS.register("fashion_mnist_lt", DatasetInfo(
    "fashion_mnist_lt", "Fashion-MNIST-LT: long-tailed subset of Fashion-MNIST (IDX files), n_max 6000",
    "fashion_mnist_lt", "bench.datasets.fashion_mnist:load_fashion_mnist_lt", 10, 6000, 10000))
DATASETS.register("imagenet_lt", DatasetInfo(
    "imagenet_lt", "ImageNet-LT (OLTR split lists + ImageNet images), 1000 classes, 1280..5 per class",
    "imagenet_lt_resnext50", "bench.datasets.imagelist:load_imagenet_lt", 1000, 1280, 50000, natural=True,
    train_size=115846, selection="official"))
DATASETS.register("places_lt", DatasetInfo(
    "places_lt", "Places-LT (OLTR split lists + Places365 images), 365 classes, 4980..5 per class",
    "places_lt_resnet50", "bench.datasets.imagelist:load_places_lt", 365, 4980, 36500, natural=True, train_size=62500,
    selection="official"))
DATASETS.register("inat2018", DatasetInfo(
    "inat2018", "iNaturalist 2018 (COCO-style JSON or list files), 8142 classes, 1000..2 per class",
    "inat2018_resnet50", "bench.datasets.imagelist:load_inat2018", 8142, 1000, 24426, natural=True, train_size=437513,
    eval_split="val"))
