"""A dataset file's catalogue loaded for a run: the training split (its own counts, or a long-tail draw as CIFAR-LT
is made), the test split and, for eval.selection=best_val, the val split (given or drawn; else half of the test
split), as the in-memory tensors of CIFAR's path or the image lists of ImageNet-LT's."""

from __future__ import annotations

import hashlib
import io
import json
import sys

import numpy as np

from bench.datasets.custom.catalog import Catalog
from bench.datasets.custom.scan import statistics
from bench.datasets.longtail import long_tail_counts, select_long_tail
from bench.errors import BenchError
from bench.runconfig import RunConfig


def check_fingerprint(cat: Catalog, cfg: RunConfig) -> None:
    planned = str(cfg["dataset"].get("fingerprint") or "")
    if planned and planned != cat.fingerprint:
        raise BenchError(f"the data of dataset {cat.spec.name} ({cat.spec.file}) changed after this run was planned "
                         f"(fingerprint {planned[:12]}... then, {cat.fingerprint[:12]}... now); plan it again (the "
                         "same command: new data is a new run id)")


def training_items(cat: Catalog, cfg: RunConfig) -> tuple[list, np.ndarray]:
    """(the training (entry, label) pairs, their indices into the train split): all of them for the natural profile,
    else the long-tail subset of the reference procedure (class 0 the head), drawn with dataset.data_seed."""
    items = cat.splits["train"]
    d = cfg["dataset"]
    if d["profile"] == "natural":
        return items, np.arange(len(items))
    n_max = min(cat.counts("train"))
    if max(cat.counts("train")) > 1.5 * n_max:
        print(f"warning: {cat.spec.name}'s training classes are not balanced ({max(cat.counts('train'))} to {n_max} "
              f"images), so its long-tail draw keeps at most {n_max} per class (the smallest class), class 0 "
              f"({cat.classes[0]}) the head", file=sys.stderr, flush=True)
    counts = long_tail_counts(n_max, len(cat.classes), d["imbalance_ratio"], d["profile"])
    if min(counts) < 1:
        raise BenchError(f"{cat.spec.name} with imbalance ratio {d['imbalance_ratio']:g} ({d['profile']}) leaves class "
                         f"{counts.index(min(counts))} no training image (its smallest class has {n_max}); use a "
                         "smaller long_tail.ratio in the dataset file (or --set dataset.imbalance_ratio)")
    keep = select_long_tail([label for _, label in items], counts, d["data_seed"])
    return [items[i] for i in keep], keep


def normalisation(cat: Catalog, cfg: RunConfig, in_memory: bool) -> tuple[tuple, tuple]:
    if cat.spec.mean is not None and cat.spec.std is not None:
        return cat.spec.mean, cat.spec.std
    if not in_memory and cfg["augment"]["normalize"] != "auto":
        from bench.datasets.imagelist import IMAGENET_MEAN, IMAGENET_STD, INAT_MEAN, INAT_STD

        return (INAT_MEAN, INAT_STD) if cfg["augment"]["normalize"] == "inat2018" else (IMAGENET_MEAN, IMAGENET_STD)
    return statistics((cat.records[e.key] for e, _ in cat.splits["train"]), cat.gray and in_memory)


def _bytes(cat: Catalog, key: str) -> bytes:
    if cat.reader is not None:
        return cat.reader(key)
    with open(key, "rb") as f:
        return f.read()


def _tensor(cat: Catalog, items: list, size: int, gray: bool):
    """uint8 (N, C, size, size) of the items' images (resized where they are not size x size)."""
    import torch
    from PIL import Image

    out = np.empty((len(items), 1 if gray else 3, size, size), dtype=np.uint8)
    for i, (e, _) in enumerate(items):
        with Image.open(io.BytesIO(_bytes(cat, e.key))) as opened:
            converted = opened.convert("L" if gray else "RGB")
            if converted.size != (size, size):
                converted = converted.resize((size, size), Image.Resampling.BILINEAR)
            array = np.asarray(converted)
        out[i] = array[None] if gray else array.transpose(2, 0, 1)
    return torch.from_numpy(out)


def _labels(items: list):
    import torch

    return torch.tensor([label for _, label in items], dtype=torch.int64)


def in_memory(cat: Catalog, cfg: RunConfig):
    from bench.datasets.base import LongTailData

    size = cat.side
    train, keep = training_items(cat, cfg)
    mean, std = normalisation(cat, cfg, True)
    data = LongTailData(name=cat.spec.name, num_classes=len(cat.classes), train_x=_tensor(cat, train, size, cat.gray),
                        train_y=_labels(train), test_x=_tensor(cat, cat.splits["test"], size, cat.gray),
                        test_y=_labels(cat.splits["test"]), mean=mean, std=std, train_indices=keep,
                        class_names=list(cat.classes), split_sha256=_list_sha256(cat, train))
    if cfg["eval"]["selection"] == "best_val":
        if "val" in cat.splits:
            from bench.datasets.selection import describe

            data.val_x, data.val_y = _tensor(cat, cat.splits["val"], size, cat.gray), _labels(cat.splits["val"])
            data.selection = describe("official", range(len(data.val_y)), range(len(data.test_y)), "val split",
                                      "test split")
        else:
            from bench.datasets.selection import split_in_memory

            split_in_memory(data)
    return data


def _list_sha256(cat: Catalog, items: list) -> str:
    text = json.dumps([cat.fingerprint, sorted([e.rel, label] for e, label in items)])
    return hashlib.sha256(text.encode()).hexdigest()


def image_list(cat: Catalog, cfg: RunConfig):
    from bench.datasets.imagelist import ImageListData

    train, _ = training_items(cat, cfg)
    mean, std = normalisation(cat, cfg, False)
    where = (f"{cat.spec.file}", "entry", None)
    data = ImageListData(name=cat.spec.name, num_classes=len(cat.classes),
                         train_items=[(e.key, label) for e, label in train],
                         eval_items=[(e.key, label) for e, label in cat.splits["test"]], eval_split="test",
                         mean=mean, std=std, train_list_sha256=_list_sha256(cat, train),
                         class_names=list(cat.classes), sources={"train": where, "eval": where}, reader=cat.reader)
    if cfg["eval"]["selection"] == "best_val":
        if "val" in cat.splits:
            from bench.datasets.selection import describe

            data.val_items = [(e.key, label) for e, label in cat.splits["val"]]
            data.selection = describe("official", range(len(data.val_items)), range(len(data.eval_items)),
                                      "val split", "test split")
        else:
            from bench.datasets.selection import split_items

            split_items(data)
    return data


def load(cat: Catalog, cfg: RunConfig):
    check_fingerprint(cat, cfg)
    data = in_memory(cat, cfg) if cat.in_memory else image_list(cat, cfg)
    # what result.json's data records besides the long-tail draw (bench/engine/result.py)
    data.source = {"file": str(cat.spec.file), "format": cat.spec.format, "fingerprint": cat.fingerprint,
                   "drawn": cat.drawn, "skipped": len(cat.skipped)}
    return data
