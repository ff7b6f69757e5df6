"""CIFAR-10-LT and CIFAR-100-LT from the python-version files (the layout torchvision downloads).

Each file's published md5 is checked BEFORE it is unpickled: a pickle can run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TypedDict

import numpy as np

from bench.datasets.base import data_root, make_long_tail
from bench.datasets.files import check_md5, download
from bench.datasets.info import DatasetInfo
from bench.errors import BenchError
from bench.runconfig import RunConfig

MEAN = (0.4914, 0.4822, 0.4465)  # the reference code's constants, for both CIFARs
STD = (0.2023, 0.1994, 0.2010)

class CifarSpec(TypedDict):
    title: str
    folder: str
    url: str
    archive: tuple[str, str]  # file name, md5
    train: list[tuple[str, str]]  # (batch file, md5)
    test: list[tuple[str, str]]
    meta: tuple[str, str, str]  # file, md5, key of the class names
    label_key: str
    num_classes: int


SPECS: dict[str, CifarSpec] = {
    "cifar10": CifarSpec(
        title="CIFAR-10",
        folder="cifar-10-batches-py",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        archive=("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
        train=[("data_batch_1", "c99cafc152244af753f735de768cd75f"),
               ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
               ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
               ("data_batch_4", "634d18415352ddfa80567beed471001a"),
               ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb")],
        test=[("test_batch", "40351d587109b95175f43aff81a1287e")],
        meta=("batches.meta", "5ff9c542aee3614f3951f8cda6e48888", "label_names"),
        label_key="labels",
        num_classes=10,
    ),
    "cifar100": CifarSpec(
        title="CIFAR-100",
        folder="cifar-100-python",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        archive=("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),
        train=[("train", "16019d7e3df5f24257cddd939b257f8d")],
        test=[("test", "f0ef6b0ae62326f3e7ffdfab6717acfc")],
        meta=("meta", "7973b15100ade9c7d40fb424638fde48", "fine_label_names"),
        label_key="fine_labels",
        num_classes=100,
    ),
}


def _unpickle(path):
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except Exception as exc:
        raise BenchError(
            f"{path} is truncated or not a CIFAR pickle ({type(exc).__name__}); delete it and download it again"
        ) from None
    if not isinstance(entry, dict):
        raise BenchError(f"{path} is not a CIFAR batch (a pickled dict); delete it and download it again")
    # latin1 gives str keys; files written with bytes keys still come back as bytes
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _read_batches(folder, files, label_key, verify, title):
    images, labels = [], []
    for name, md5 in files:
        path = folder / name
        if verify:
            check_md5(path, md5, title)
        entry = _unpickle(path)
        try:
            data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            lab = np.asarray(entry[label_key], dtype=np.int64)
        except (KeyError, ValueError) as exc:
            raise BenchError(f"{path} lacks valid {exc} data for {title}; delete it and download it again") from None
        if len(data) != len(lab):
            raise BenchError(f"{path} has {len(data)} images but {len(lab)} labels; delete it and download it again")
        images.append(data)
        labels.append(lab)
    import torch

    return torch.from_numpy(np.concatenate(images)), np.concatenate(labels)


def read_cifar(root, which, verify=True, allow_download=True):
    """Full balanced CIFAR train and test sets: (train_x, train_y, test_x, test_y, class_names)."""
    spec = SPECS[which]
    folder = Path(root) / spec["folder"]
    needed = [n for n, _ in spec["train"] + spec["test"]]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        if not allow_download:
            raise BenchError(
                f"{spec['title']} files ({', '.join(missing)}) are not in {folder}; put the python-version "
                f"files there (the folder {spec['folder']} from {spec['archive'][0]}), or point --data-root "
                "(or $BENCH_DATA) at the folder that holds it"
            )
        download(spec["url"], root, *spec["archive"], spec["title"], folder,
                 f"the python-version files ({', '.join(needed)}, from {spec['archive'][0]})")
    train_x, train_y = _read_batches(folder, spec["train"], spec["label_key"], verify, spec["title"])
    test_x, test_y = _read_batches(folder, spec["test"], spec["label_key"], verify, spec["title"])
    names = []
    meta_name, meta_md5, meta_key = spec["meta"]
    if (folder / meta_name).is_file():
        if verify:
            check_md5(folder / meta_name, meta_md5, spec["title"])
        names = list(_unpickle(folder / meta_name).get(meta_key, []))
    return train_x, train_y, test_x, test_y, names


def _load(cfg: RunConfig, which, name):
    d = cfg["dataset"]
    train_x, train_y, test_x, test_y, names = read_cifar(data_root(cfg), which, d["verify"], d["download"])
    return make_long_tail(name, SPECS[which]["num_classes"], train_x, train_y, test_x, test_y,
                          MEAN, STD, cfg, names)


def load_cifar10_lt(cfg: RunConfig):
    return _load(cfg, "cifar10", "cifar10_lt")


def load_cifar100_lt(cfg: RunConfig):
    return _load(cfg, "cifar100", "cifar100_lt")


DATASETS = (
    DatasetInfo("cifar10_lt", "CIFAR-10-LT: long-tailed subset of CIFAR-10 (python-version files), n_max 5000",
                "cifar_lt", load_cifar10_lt, 10, 5000, 10000),
    DatasetInfo("cifar100_lt", "CIFAR-100-LT: long-tailed subset of CIFAR-100 (python-version files), n_max 500",
                "cifar_lt", load_cifar100_lt, 100, 500, 10000),
)
