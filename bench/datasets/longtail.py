"""Long-tailed subsets exactly as the reference code (kaidic/LDAM-DRW, imbalance_cifar.py) builds them."""

from __future__ import annotations

import hashlib

import numpy as np

from bench.errors import BenchError


def long_tail_counts(n_max, num_classes, imbalance_ratio, profile="exp"):
    """Images kept per class: class 0 is the head, class C-1 the tail.

    exp:  n_i = int(n_max * (1/rho) ** (i / (C - 1)))
    step: the first C//2 classes keep n_max, the rest int(n_max / rho)
    (float arithmetic in the reference's order, so the counts match it bit for bit).
    """
    if imbalance_ratio < 1:
        raise BenchError(f"imbalance ratio must be at least 1, got {imbalance_ratio}")
    imb_factor = 1.0 / imbalance_ratio
    n_max = float(n_max)
    if profile == "exp":
        if num_classes == 1:
            return [int(n_max)]
        return [int(n_max * imb_factor ** (i / (num_classes - 1.0))) for i in range(num_classes)]
    if profile == "step":
        half = num_classes // 2
        return [int(n_max)] * half + [int(n_max * imb_factor)] * (num_classes - half)
    raise BenchError(f"unknown imbalance profile {profile!r}; use exp or step")


def select_long_tail(labels, counts, data_seed):
    """Original indices of the kept images, in the reference's order.

    The legacy NumPy RNG is seeded once; for c = 0..C-1 the indices of class c (file
    order) are shuffled and the first counts[c] kept. RandomState(seed).shuffle consumes
    the stream exactly like np.random.seed(seed) + np.random.shuffle.
    """
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.RandomState(data_seed)
    kept = []
    for cls, n in zip(np.unique(labels), counts):
        idx = np.where(labels == cls)[0]
        rng.shuffle(idx)
        kept.append(idx[:n])
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)


def indices_sha256(indices):
    """sha256 of the sorted original indices joined by commas (split provenance)."""
    text = ",".join(str(int(i)) for i in sorted(int(i) for i in indices))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
