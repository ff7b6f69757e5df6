"""Sampler parts: which training images an epoch visits, drawn from the epoch's torch.Generator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.weights import BETA

if TYPE_CHECKING:
    import torch


def sample_weights(kind: str, labels: torch.Tensor, class_counts: Sequence[int], beta: float) -> torch.Tensor:
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


def epoch_order(kind: str, labels: torch.Tensor, class_counts: Sequence[int], beta: float,
                generator: torch.Generator) -> torch.Tensor:
    """Indices (CPU int64) of one epoch: a permutation, or N draws with replacement."""
    import torch

    n = len(labels)
    if kind == "instance":
        return torch.randperm(n, generator=generator)
    weights = sample_weights(kind, labels, class_counts, beta)
    return torch.multinomial(weights, n, replacement=True, generator=generator)


def class_aware_order(labels: torch.Tensor, num_classes: int, per_visit: int,
                      generator: torch.Generator) -> torch.Tensor:
    """N indices as classifier-balancing's ClassAwareSampler draws them: the classes in a random cycle (reshuffled
    after every pass), `per_visit` images of the visited class in a row, each class's images in their own random
    cycle (reshuffled after every pass; a class with fewer images repeats within a visit). bench restarts the cycles
    every epoch from the epoch's generator (the official ones carry over), so a resumed epoch draws the same."""
    import torch

    labels = labels.cpu()
    members = [torch.nonzero(labels == c).flatten() for c in range(num_classes)]
    members = [m[torch.randperm(len(m), generator=generator)] for m in members]
    cursor = [0] * num_classes
    out: list[int] = []
    classes, at, n = torch.randperm(num_classes, generator=generator), 0, len(labels)
    while len(out) < n:
        c = int(classes[at])
        at += 1
        if at == num_classes:
            classes, at = torch.randperm(num_classes, generator=generator), 0
        for _ in range(per_visit):
            if cursor[c] == len(members[c]):
                members[c], cursor[c] = members[c][torch.randperm(len(members[c]), generator=generator)], 0
            out.append(int(members[c][cursor[c]]))
            cursor[c] += 1
    return torch.tensor(out[:n], dtype=torch.int64)


class Sampler:
    """An epoch's order for one sampler part; instance order while re-balancing is off."""

    def __init__(self, kind: str, labels: torch.Tensor, class_counts: Sequence[int], beta: float) -> None:
        self.kind, self.labels, self.counts, self.beta = kind, labels, class_counts, beta
        self.per_visit = PER_VISIT.default  # class_aware: images of a class per visit (set by build)

    def epoch_order(self, generator: torch.Generator, rebalancing: bool) -> torch.Tensor:
        kind = self.kind if rebalancing else "instance"
        if kind == "class_aware":
            return class_aware_order(self.labels, len(self.counts), self.per_visit, generator)
        return epoch_order(kind, self.labels, self.counts, self.beta, generator)


def _build(kind: str) -> Callable[..., Sampler]:
    def build(labels: torch.Tensor, counts: Sequence[int], m: dict) -> Sampler:
        sampler = Sampler(kind, labels, counts, m.get("beta", BETA.default))
        sampler.per_visit = m.get("class_aware_per_visit", PER_VISIT.default)
        return sampler

    return build


# build(train_labels, class_counts, method_cfg) -> Sampler
INSTANCE = Part("sampler", "instance", "every image once per epoch, in random order", build=_build("instance"))
CLASS_BALANCED = Part(
    "sampler", "class_balanced", "N draws with replacement, image weight = the CB weight of its class",
    params=(BETA,), source="kaidic/LDAM-DRW utils.py ImbalancedDatasetSampler", build=_build("class_balanced"))
CLASS_UNIFORM = Part("sampler", "class_uniform", "N draws with replacement, every class with probability 1/C",
                     build=_build("class_uniform"))
PER_VISIT = Param("class_aware_per_visit", 4, "images of a class drawn in a row at each visit of the class",
                  source="facebookresearch/classifier-balancing config/*/cls_crt.yaml (num_samples_cls 4)",
                  check=lambda v: 1 <= v <= 1 << 20, phrase="from 1 to 1048576")
CLASS_AWARE = Part("sampler", "class_aware", "classifier-balancing's ClassAwareSampler: classes in a random cycle, "
                   "class_aware_per_visit images of a class in a row, each class's images in their own cycle",
                   params=(PER_VISIT,), source="facebookresearch/classifier-balancing data/ClassAwareSampler.py",
                   build=_build("class_aware"))
PARTS = (INSTANCE, CLASS_BALANCED, CLASS_UNIFORM, CLASS_AWARE)
