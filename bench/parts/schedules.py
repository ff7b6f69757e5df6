"""Schedules: the learning rate of each epoch and the schedule parts (from which epoch the class weights and the
sampler, re-balancing, are on); the train section a stage-2 child trains with is bench.algorithms.stage2's.

The trainer asks `rebalancing(epoch)` once per epoch and hands the answer to the loss and the
sampler through their one hook (`set_rebalancing`, `epoch_order(..., rebalancing)`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bench.errors import BenchError
from bench.parts.part import Param, Part
from bench.runconfig import RunConfig

DEFER_EPOCH = Param("defer_epoch", None, "first epoch (0-based) with re-balancing on; null: the first LR decay",
                    source="Cao et al. 2019 Sec. 3.2 (DRW: re-weighting from the first LR decay, epoch 160 of 200)",
                    types=(int, type(None)), check=lambda v: v >= 0, phrase="non-negative")

def _switch(cfg: RunConfig) -> int:
    """build(cfg) -> first epoch with re-balancing on (0 for start), from defer_epoch."""
    return defer_epoch(cfg)


def milestones(train_cfg: Mapping[str, Any]) -> list[int]:
    """Epochs (0-based) at which the LR decays: explicit list, else int(fraction * epochs)."""
    if train_cfg["milestones"] is not None:
        return sorted(train_cfg["milestones"])
    return [int(f * train_cfg["epochs"]) for f in train_cfg["milestone_fractions"]]


def learning_rate(epoch: int, train_cfg: Mapping[str, Any]) -> float:
    """LR of 0-based `epoch`: linear warm-up lr*(e+1)/W, then lr x lr_decay per passed milestone.

    With the reference recipe: 0.02, 0.04, 0.06, 0.08, 0.1 (e 0..4); 0.1 until 159;
    0.001 for 160..179; 0.00001 for 180..199.
    """
    base, warmup = train_cfg["lr"], train_cfg["warmup_epochs"]
    if epoch < warmup:
        return base * (epoch + 1) / warmup
    if train_cfg["schedule"] == "cosine":  # per epoch from lr (after warm-up) towards 0; k: PaCo's and BCL's offset
        k = train_cfg["cosine_offset"]
        span = max(1, train_cfg["epochs"] - warmup + k)
        return base * 0.5 * (1 + math.cos(math.pi * (epoch - warmup + k) / span))
    decays = sum(epoch >= m for m in milestones(train_cfg))
    return base * train_cfg["lr_decay"] ** decays


def defer_epoch(cfg: RunConfig) -> int:
    """First epoch with re-balancing on: 0, or method.defer_epoch, else the first LR decay."""
    method = cfg["method"]
    if method["schedule"] == "start":
        return 0
    if method["defer_epoch"] is not None:
        return method["defer_epoch"]
    ms = milestones(cfg["train"])
    if not ms:
        raise BenchError("a deferred schedule needs an LR milestone or method.defer_epoch; set one of them")
    return ms[0]


START = Part("schedule", "start", "re-balancing on from the first epoch", build=_switch)
DEFERRED = Part("schedule", "deferred", "re-balancing off until method.defer_epoch (default: the first LR decay)",
                params=(DEFER_EPOCH,), source="Cao et al., NeurIPS 2019 (DRW / DRS)", build=_switch)
PARTS = (START, DEFERRED)
