"""Dataset registry: name -> what it is, its recipe preset and its loader (bench.datasets.info.DatasetInfo).

Adding a dataset: one file in this package with a loader `load(cfg) -> Dataset` (bench.datasets.protocol) and its
declaration `DATASET = DatasetInfo(..., loader=load)` (or a `DATASETS` tuple for several), found by
bench.registry.discover: nothing else names it. Dataset files import torch inside their functions only, so that
`bench list` stays fast. A plugin module (BENCH_PLUGINS) declares `DATASET` the same way.

A user's dataset needs no code: a YAML file (bench/datasets/custom/, docs/own-data.md), given by its path or by the
name `bench data add` recorded (bench/datasets/custom/added.py). `lookup` finds any of the three; `for_config` the
dataset of a resolved config (a YAML dataset by the file its config records).
"""

from __future__ import annotations

from bench.datasets.info import DatasetInfo
from bench.registry import Registry, discover
from bench.runconfig import RunConfig

__all__ = ["DATASETS", "DatasetInfo", "lookup", "for_config", "find", "forget"]

DATASETS = Registry("dataset")
for _info in discover("bench.datasets", DatasetInfo, ("DATASETS", "DATASET")):
    DATASETS.register(_info.name, _info)


def is_file_name(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def lookup(name: str) -> DatasetInfo:
    """A built-in (or plugin) dataset by name, a dataset YAML file by path, or a name `bench data add` recorded;
    BenchError for anything else (naming the close names)."""
    from bench.datasets.custom.added import added
    from bench.datasets.custom.declare import user_info
    from bench.errors import BenchError, unknown

    if name in DATASETS:
        return DATASETS[name]
    if not is_file_name(name) and name not in added():
        raise unknown("dataset", name, [*DATASETS, *added()])
    info = user_info(name if is_file_name(name) else added()[name])
    if info.name in DATASETS:
        raise BenchError(f"dataset file {info.file} is named {info.name}, a built-in dataset; set another name: in it")
    return info


def forget() -> None:
    """A new command: dataset files' data is read again (bench/datasets/custom/catalog.py)."""
    from bench.datasets.custom.catalog import forget as forget_catalogs

    forget_catalogs()


def for_config(cfg: RunConfig) -> DatasetInfo:
    """The dataset a resolved config trains on."""
    file = cfg["dataset"].get("file")
    if isinstance(file, str) and file:
        from bench.datasets.custom.declare import user_info

        return user_info(file)
    return DATASETS.get_or_fail(cfg["dataset"]["name"])


def find(cfg: RunConfig) -> DatasetInfo | None:
    """for_config, or None where the dataset cannot be read now (a finished run's YAML file moved, a plugin's
    dataset not loaded)."""
    from bench.errors import BenchError

    try:
        return for_config(cfg)
    except (BenchError, OSError):
        return None
