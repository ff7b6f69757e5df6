"""Schedule parts: from which epoch the class weights and the sampler (re-balancing) are on.

The trainer asks `rebalancing(epoch)` once per epoch and hands the answer to the loss and the
sampler through their one hook (`set_rebalancing`, `epoch_order(..., rebalancing)`).
"""

from __future__ import annotations

from bench.methods.parts import Param, Part

DEFER_EPOCH = Param("defer_epoch", None, "first epoch (0-based) with re-balancing on; null: the first LR decay",
                    source="Cao et al. 2019 Sec. 3.2 (DRW: re-weighting from the first LR decay, epoch 160 of 200)",
                    types=(int, type(None)), check=lambda v: v >= 0, phrase="non-negative")

def _switch(cfg):
    """build(cfg) -> first epoch with re-balancing on (0 for start), from bench.schedule.defer_epoch."""
    from bench.schedule import defer_epoch

    return defer_epoch(cfg)


START = Part("schedule", "start", "re-balancing on from the first epoch", build=_switch)
DEFERRED = Part("schedule", "deferred", "re-balancing off until method.defer_epoch (default: the first LR decay)",
                params=(DEFER_EPOCH,), source="Cao et al., NeurIPS 2019 (DRW / DRS)", build=_switch)
PARTS = (START, DEFERRED)
