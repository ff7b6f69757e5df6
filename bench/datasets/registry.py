"""Dataset registry: name -> what it is, its recipe preset and its loader (bench.datasets.info.DatasetInfo).

Adding a dataset: one file in this package with a loader `load(cfg) -> Dataset` (bench.datasets.protocol) and its
declaration `DATASET = DatasetInfo(..., loader=load)` (or a `DATASETS` tuple for several), found by
bench.registry.discover: nothing else names it. Dataset files import torch inside their functions only, so that
`bench list` stays fast. A plugin module (BENCH_PLUGINS) declares `DATASET` the same way.
"""

from __future__ import annotations

from bench.datasets.info import DatasetInfo
from bench.registry import Registry, discover

__all__ = ["DATASETS", "DatasetInfo"]

DATASETS = Registry("dataset")
for _info in discover("bench.datasets", DatasetInfo, ("DATASETS", "DATASET")):
    DATASETS.register(_info.name, _info)
