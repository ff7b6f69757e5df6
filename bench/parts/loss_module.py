"""Loss parts as nn.Modules: per-class constants as buffers, class weights, one re-balancing hook.

Every loss takes class weights the same way: `weight` (a C-vector) is applied while re-balancing
is on. The trainer switches it with `set_rebalancing(on)` and never touches a loss's attributes.
Public classes (`from bench.methods import ...`) are thin names for one part with its arguments.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.parts.losses import ce, focal, ldam, logit_adjust, vs


class PartLoss(nn.Module):
    def __init__(self, part, class_counts, hparams=None, weight=None):
        super().__init__()
        self.part = part
        constants = part.setup(class_counts, **(hparams or {})) if part.setup else {}
        self._buffers_of_part, self._scalars = [], {}
        for name, value in constants.items():
            if isinstance(value, np.ndarray):
                self.register_buffer(name, torch.tensor(value, dtype=torch.float32))
                self._buffers_of_part.append(name)
            else:
                self._scalars[name] = value
        self.register_buffer("class_weights", weight)
        self.rebalancing = True

    def set_rebalancing(self, on):
        """Class weights apply from now on (True) or not (False)."""
        self.rebalancing = bool(on)

    @property
    def weight(self):
        return self.class_weights if self.rebalancing else None

    def forward(self, logits, target):
        constants = {name: getattr(self, name) for name in self._buffers_of_part}
        return self.part.forward(logits, target, self.weight, **constants, **self._scalars)


def build_loss(method_cfg, class_counts, weight=None):
    """The loss module of a method config, with its class weights (applied while re-balancing)."""
    from bench.parts.registry import PARTS

    part = PARTS.get("loss", method_cfg["loss"])
    return PartLoss(part, class_counts, {p.key: method_cfg[p.key] for p in part.params}, weight)


class CrossEntropy(PartLoss):
    def __init__(self, weight=None):
        super().__init__(ce.PART, None, {}, weight)


class FocalLoss(PartLoss):
    def __init__(self, gamma=1.0, weight=None, form="reference"):
        super().__init__(focal.PART, None, {"gamma": gamma, "focal_form": form}, weight)


class LDAMLoss(PartLoss):
    def __init__(self, class_counts, max_m=0.5, s=30.0, weight=None):
        super().__init__(ldam.PART, class_counts, {"max_m": max_m, "s": s}, weight)


class LogitAdjustedLoss(PartLoss):
    """CE(z + tau log pi, y), pi = class_counts / sum (Menon et al. 2021)."""

    def __init__(self, class_counts, tau=1.0, weight=None):
        super().__init__(logit_adjust.PART, class_counts, {"la_tau": tau}, weight)


class BalancedSoftmaxLoss(PartLoss):
    """CE(z + log n, y) (Ren et al. 2020); equal to LogitAdjustedLoss with tau = 1."""

    def __init__(self, class_counts, weight=None):
        super().__init__(logit_adjust.BALANCED_SOFTMAX, class_counts, {}, weight)


class VSLoss(PartLoss):
    """CE(z (n / n_max)^gamma + tau log pi, y) (Kini et al. 2021)."""

    def __init__(self, class_counts, gamma=0.3, tau=1.0, weight=None):
        super().__init__(vs.PART, class_counts, {"vs_gamma": gamma, "vs_tau": tau}, weight)
