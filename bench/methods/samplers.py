"""Which training images an epoch visits, drawn from an explicit torch.Generator."""

from __future__ import annotations

import numpy as np
import torch


def sample_weights(kind, labels, class_counts, beta):
    """Per-sample drawing weights (float64) for the re-sampling choices."""
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
    n = len(labels)
    if kind == "instance":
        return torch.randperm(n, generator=generator)
    weights = sample_weights(kind, labels, class_counts, beta)
    return torch.multinomial(weights, n, replacement=True, generator=generator)
