"""Sampler parts: which training images an epoch visits, drawn from the epoch's torch.Generator."""

from __future__ import annotations

import numpy as np

from bench.methods.parts import Part
from bench.methods.weights import BETA


def sample_weights(kind, labels, class_counts, beta):
    """Per-sample drawing weights (float64) for the re-sampling choices."""
    import torch

    counts = np.asarray(class_counts, dtype=np.float64)
    if kind == "class_balanced":  # reference ImbalancedDatasetSampler: unnormalised CB weight of the class
        per_class = (1.0 - beta) / (1.0 - np.power(beta, counts))
    elif kind == "class_uniform":  # classic RS: every class drawn with probability 1/C
        per_class = 1.0 / counts
    else:
        raise ValueError(f"unknown sampler {kind!r}")
    return torch.from_numpy(per_class)[labels.cpu()]


def epoch_order(kind, labels, class_counts, beta, generator):
    """Indices (CPU int64) of one epoch: a permutation, or N draws with replacement."""
    import torch

    n = len(labels)
    if kind == "instance":
        return torch.randperm(n, generator=generator)
    weights = sample_weights(kind, labels, class_counts, beta)
    return torch.multinomial(weights, n, replacement=True, generator=generator)


class Sampler:
    """An epoch's order for one sampler part; instance order while re-balancing is off."""

    def __init__(self, kind, labels, class_counts, beta):
        self.kind, self.labels, self.counts, self.beta = kind, labels, class_counts, beta

    def epoch_order(self, generator, rebalancing):
        kind = self.kind if rebalancing else "instance"
        return epoch_order(kind, self.labels, self.counts, self.beta, generator)


def _build(kind):
    return lambda labels, counts, m: Sampler(kind, labels, counts, m.get("beta", BETA.default))


# build(train_labels, class_counts, method_cfg) -> Sampler
INSTANCE = Part("sampler", "instance", "every image once per epoch, in random order", build=_build("instance"))
CLASS_BALANCED = Part(
    "sampler", "class_balanced", "N draws with replacement, image weight = the CB weight of its class",
    params=(BETA,), source="kaidic/LDAM-DRW utils.py ImbalancedDatasetSampler", build=_build("class_balanced"))
CLASS_UNIFORM = Part("sampler", "class_uniform", "N draws with replacement, every class with probability 1/C",
                     build=_build("class_uniform"))
PARTS = (INSTANCE, CLASS_BALANCED, CLASS_UNIFORM)
