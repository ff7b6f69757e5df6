"""What a dataset declares (`DATASETS` or `DATASET` in the file that loads it): its name, its recipe preset, its
loader and the sizes the cost model and the plan read without loading it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.runconfig import RunConfig

if TYPE_CHECKING:
    from bench.datasets.protocol import Dataset


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    recipe: str  # preset applied before the user's presets
    loader: Callable[[RunConfig], Dataset]  # load(cfg), in the file that declares the dataset
    num_classes: int = 0  # sizes of the standard files, for cost estimates without loading data
    n_max: int = 0
    test_size: int = 0
    natural: bool = False  # a fixed published long-tailed split (no imbalance_ratio / profile)
    train_size: int = 0  # training images of the standard split (natural datasets)
    eval_split: str = "test"  # the split evaluated when dataset.eval_split is not set
    # validation protocol of eval.selection=best_val (bench.datasets.selection): "half" of the evaluation set,
    # "official" val list, or "" (none: best_val is refused)
    selection: str = "half"
    in_memory: bool = True  # images held as tensors (CIFAR's path); False: image files decoded per batch
    # a dataset declared in a YAML file (bench/datasets/custom/): the file, its data's fingerprint (in the run id),
    # the built-in dataset whose method recipes it takes, the config values the file gives (merged after the recipe
    # preset) and why they were chosen; its profile may be natural (its own counts) or exp / step (a long-tail draw)
    file: str = ""
    fingerprint: str = ""
    like: str = ""
    layer: dict = field(default_factory=dict)
    why: str = ""

    @property
    def recipe_name(self) -> str:
        """The dataset name the methods' per-dataset recipes are looked up by."""
        return self.like or self.name

    @property
    def either(self) -> bool:
        """Its own counts (profile natural) or a long-tail draw (exp / step) both apply."""
        return bool(self.file)

    def load(self, cfg: RunConfig) -> Dataset:
        return self.loader(cfg)
