"""Per-class loss weights."""

from __future__ import annotations

import numpy as np
import torch


def class_balanced_weights(class_counts, beta):
    """Cui et al. 2019 'effective number' weights, normalised to sum to the number of classes.

    w_c = (1 - beta) / (1 - beta ** n_c), computed in float64 as the reference code does.
    beta = 0 gives all ones.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    weights = weights / np.sum(weights) * len(counts)
    return torch.tensor(weights, dtype=torch.float32)


def inverse_frequency_weights(class_counts):
    """w_c proportional to 1 / n_c, normalised to sum to the number of classes (CB's beta -> 1 limit)."""
    counts = np.asarray(class_counts, dtype=np.float64)
    weights = 1.0 / counts
    weights = weights / np.sum(weights) * len(counts)
    return torch.tensor(weights, dtype=torch.float32)


def class_weights(kind, class_counts, beta):
    """The weight tensor for a `method.weights` choice, or None for `none`."""
    if kind == "none":
        return None
    if kind == "cb":
        return class_balanced_weights(class_counts, beta)
    if kind == "inverse_frequency":
        return inverse_frequency_weights(class_counts)
    raise ValueError(f"unknown class weights {kind!r}")
