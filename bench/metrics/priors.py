"""Accuracy under shifted test label distributions (SADE's test-agnostic protocol), from per-class accuracy.

A test set is class-balanced; SADE (Zhang et al., NeurIPS 2022) also evaluates on test sets re-sampled to be
long-tailed the same way as training ("forward") or the other way ("backward"), imbalance 2, 5, 10, 25, 50:
class c keeps n_max (1/rho)^(r_c / (C-1)) images, r_c its rank by training count (most first; backward: the
ranks reversed; tied classes share the mean weight of their ranks). The expected accuracy on such a set is the
prior-weighted mean of the per-class accuracies, sum_c q_c acc_c with q_c proportional to rho^(-r_c / (C-1)):
computed here exactly (no re-sampling noise, no rounding of counts), for any finished run that recorded its per-
class accuracy. Plain Python: the report imports it without torch."""

from __future__ import annotations

import functools

RATIOS = (2, 5, 10, 25, 50)
DIRECTIONS = ("forward", "backward")
NAMES = tuple(f"{d}{r}" for d in DIRECTIONS for r in RATIOS)  # forward2 ... backward50: --metric choices


def parse(name: str) -> tuple[str, int]:
    """'forward50' -> ('forward', 50)."""
    direction = next(d for d in DIRECTIONS if name.startswith(d))
    return direction, int(name[len(direction):])


def weights(train_counts: list, ratio: float, direction: str) -> list[float]:
    """The test prior q (summing to 1) of SADE's `direction`-long-tailed test set of imbalance `ratio`. Classes
    with the same training count (common in the natural splits) share the mean weight of the ranks they span,
    so the prior does not depend on their order."""
    return list(_weights(tuple(train_counts), ratio, direction))


@functools.lru_cache(maxsize=256)  # a report's runs share a few training splits: each prior computed once
def _weights(train_counts: tuple, ratio: float, direction: str) -> tuple:
    c = len(train_counts)
    order = sorted(range(c), key=lambda k: -train_counts[k])
    by_rank = [ratio ** (-(i if direction == "forward" else c - 1 - i) / max(1, c - 1)) for i in range(c)]
    raw = [0.0] * c
    start = 0
    while start < c:  # a run of tied counts in `order`
        end = start
        while end + 1 < c and train_counts[order[end + 1]] == train_counts[order[start]]:
            end += 1
        mean = sum(by_rank[start:end + 1]) / (end + 1 - start)
        for k in order[start:end + 1]:
            raw[k] = mean
        start = end + 1
    total = sum(raw)
    return tuple(w / total for w in raw)


def shifted_accuracy(per_class_acc: list, train_counts: list, name: str) -> float | None:
    """Accuracy (%) under the test prior `name` (e.g. 'backward25'); classes without test images are left out
    and the prior renormalised over the rest; None when no class has any."""
    direction, ratio = parse(name)
    pairs = [(w, a) for w, a in zip(weights(train_counts, ratio, direction), per_class_acc) if a is not None]
    total = sum(w for w, _ in pairs)
    return sum(w * a for w, a in pairs) / total if total > 0 else None


def fill(result: dict) -> None:
    """Add the shifted-prior accuracies to a finished result's last and best blocks, from their per-class
    accuracy (blocks without it are left as they are)."""
    counts = result.get("train_class_counts")
    if not counts:
        return
    for block in (result.get("last"), result.get("best")):
        if isinstance(block, dict) and block.get("per_class_acc") and len(block["per_class_acc"]) == len(counts):
            for name in NAMES:
                block.setdefault(name, shifted_accuracy(block["per_class_acc"], counts, name))
