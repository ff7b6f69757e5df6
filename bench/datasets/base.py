"""The in-memory long-tailed dataset every loader returns, and the shared subsetting step."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from bench.datasets.longtail import indices_sha256, long_tail_counts, select_long_tail
from bench.errors import BenchError
from bench.runconfig import RunConfig

if TYPE_CHECKING:
    import torch


@dataclass
class LongTailData:
    """uint8 images (N, C, H, W) and int64 labels, train (long-tailed) and test (balanced)."""

    in_memory: ClassVar[bool] = True  # bench.datasets.protocol.Dataset
    name: str
    num_classes: int
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: tuple
    std: tuple
    train_indices: np.ndarray  # original indices of the kept training images
    class_names: list = field(default_factory=list)
    val_x: torch.Tensor | None = None  # eval.selection=best_val: the selection half of the test set
    val_y: torch.Tensor | None = None
    selection: dict | None = None  # how val and reported images were split (bench.datasets.selection)
    split_sha256: str = ""  # a dataset file's training split (bench/datasets/custom/load.py); "": the indices' hash

    @property
    def train_counts(self):
        import torch

        return torch.bincount(self.train_y, minlength=self.num_classes).tolist()

    @property
    def test_counts(self):
        import torch

        return torch.bincount(self.test_y, minlength=self.num_classes).tolist()

    @property
    def train_indices_sha256(self):
        return self.split_sha256 or indices_sha256(self.train_indices)

    @property
    def in_channels(self):
        return self.train_x.shape[1]

    @property
    def train_labels(self):
        return self.train_y

    def pipeline(self, cfg: RunConfig, device):
        from bench.images.pipelines import TensorPipeline

        return TensorPipeline(self, cfg, device)


def data_root(cfg: RunConfig):
    """--data-root / dataset.root, else $BENCH_DATA, else ./data."""
    root = Path(cfg["dataset"]["root"] or os.environ.get("BENCH_DATA") or "data").expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise BenchError(f"data root {root} is a file, not a folder; point --data-root (or $BENCH_DATA) at the "
                         "folder holding the datasets")
    return root


def make_long_tail(name, num_classes, train_x, train_y, test_x, test_y, mean, std, cfg: RunConfig, class_names=()):
    """Apply the reference long-tail procedure to a full balanced training set."""
    import torch

    d = cfg["dataset"]
    train_y = np.asarray(train_y, dtype=np.int64)
    n_max = len(train_y) / num_classes  # as the reference computes img_max
    counts = long_tail_counts(n_max, num_classes, d["imbalance_ratio"], d["profile"])
    if min(counts) < 1:
        empty = counts.index(min(counts))
        raise BenchError(
            f"{name} with imbalance ratio {d['imbalance_ratio']:g} ({d['profile']}) leaves class {empty} "
            f"with no training image (n_max {n_max:g}); use a smaller dataset.imbalance_ratio"
        )
    keep = select_long_tail(train_y, counts, d["data_seed"])
    keep_t = torch.from_numpy(keep)
    data = LongTailData(
        name=name,
        num_classes=num_classes,
        train_x=train_x[keep_t].contiguous(),
        train_y=torch.from_numpy(train_y[keep]),
        test_x=test_x,
        test_y=torch.as_tensor(np.asarray(test_y, dtype=np.int64)),
        mean=tuple(mean),
        std=tuple(std),
        train_indices=keep,
        class_names=list(class_names),
    )
    if cfg["eval"]["selection"] == "best_val":
        from bench.datasets.selection import split_in_memory

        split_in_memory(data)
    return data
