"""Validation splits for honest selection (`eval.selection=best_val`): a choice made by looking at
accuracy (the best epoch, a post-hoc tau) is made on images that are never reported.

Protocols (the long-tailed training subset and its sha256 never change):

official  ImageNet-LT, Places-LT: the published val list (20 images per class, taken from the
          training pool of ILSVRC-2012 / Places-365 and disjoint from the test list) selects; the
          test list is reported whole.
half      CIFAR-10/100-LT, Fashion-MNIST-LT, iNaturalist 2018 (whose labelled evaluation set is its
          val list): a fixed half of every class of the evaluation set selects, the other half is
          reported. CIFAR's and Fashion-MNIST's training images cannot serve: the long-tailed
          subset keeps every image of the head class, so a class-balanced validation set from
          unused training images does not exist. The split depends on nothing but the labels and
          the constant HALF_SEED, so every method, seed and data seed of a dataset uses the same one.
"""

from __future__ import annotations

import numpy as np

from bench.datasets.longtail import indices_sha256

HALF_SEED = 20191209  # fixed: the split is part of the protocol, not of a run


def half_split(labels):
    """(selection indices, reported indices) into an evaluation set: per class, a fixed random
    floor(n / 2) select (at least one when the class has two or more) and the rest are reported."""
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(HALF_SEED)
    select, report = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        k = max(1, len(idx) // 2) if len(idx) >= 2 else 0
        select.append(idx[:k])
        report.append(idx[k:])
    return np.sort(np.concatenate(select)), np.sort(np.concatenate(report))


def describe(protocol, select_indices, report_indices, select_name, report_name):
    """What result.json records about the two splits."""
    return {"protocol": protocol,
            "val": {"from": select_name, "size": int(len(select_indices)),
                    "indices_sha256": indices_sha256(np.asarray(select_indices, dtype=np.int64))},
            "reported": {"from": report_name, "size": int(len(report_indices)),
                         "indices_sha256": indices_sha256(np.asarray(report_indices, dtype=np.int64))}}


def split_in_memory(data):
    """LongTailData: half of the test set becomes val_x / val_y, the other half stays test."""
    import torch

    select, report = half_split(data.test_y.numpy())
    s, r = torch.from_numpy(select), torch.from_numpy(report)
    data.val_x, data.val_y = data.test_x[s], data.test_y[s]
    data.test_x, data.test_y = data.test_x[r], data.test_y[r]
    data.selection = describe("half", select, report, "test set", "test set")
    return data


def split_items(data):
    """ImageListData without an official val list: half of its evaluation list selects."""
    select, report = half_split([label for _, label in data.eval_items])
    items = data.eval_items
    data.val_items = [items[i] for i in select]
    data.eval_items = [items[i] for i in report]
    if "eval" in data.sources:  # the list entries the two halves came from
        path, unit, lines = data.sources["eval"]
        entry = (lambda i: lines[i]) if lines else (lambda i: i + 1)
        data.sources["val"] = (path, unit, [entry(i) for i in select])
        data.sources["eval"] = (path, unit, [entry(i) for i in report])
    data.selection = describe("half", select, report, f"{data.eval_split} list", f"{data.eval_split} list")
    return data
