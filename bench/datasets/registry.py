"""Dataset registry: name -> what it is, its recipe preset, and where its loader lives.

Adding a dataset: write a loader `load(cfg) -> LongTailData` in a module of this package
and add one `DATASETS.register(...)` line below. Loaders are imported lazily.
"""

from dataclasses import dataclass

from bench.registry import Registry


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    recipe: str  # preset applied before the user's presets
    loader: str  # "module:function", imported on use
    num_classes: int = 0  # sizes of the standard files, for cost estimates without loading data
    n_max: int = 0
    test_size: int = 0

    def load(self, cfg):
        import importlib

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
