"""Loss parts as nn.Modules: per-class constants as buffers, class weights, one re-balancing hook.

Every loss takes class weights the same way: `weight` (a C-vector) is applied while re-balancing
is on. The trainer switches it with `set_rebalancing(on)` and never touches a loss's attributes.
Public classes (`from bench.methods import ...`) are thin names for one part with its arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from bench.parts.losses import ce, focal, ldam, logit_adjust, vs

if TYPE_CHECKING:
    from bench.parts.part import Part


class PartLoss(nn.Module):
    def __init__(self, part: Part, class_counts: Sequence[int] | None, hparams: dict[str, Any] | None = None,
                 weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.part = part
        constants = part.setup(class_counts, **(hparams or {})) if part.setup else {}
        self._buffers_of_part: list[str] = []
        self._scalars: dict[str, Any] = {}
        for name, value in constants.items():
            if isinstance(value, np.ndarray):
                self.register_buffer(name, torch.tensor(value, dtype=torch.float32))
                self._buffers_of_part.append(name)
            else:
                self._scalars[name] = value
        self.register_buffer("class_weights", weight)
        self.rebalancing = True
        self.generator = torch.Generator() if part.draws else None  # the part's draws (Part.draws), on the CPU

    def set_rebalancing(self, on: bool) -> None:
        """Class weights apply from now on (True) or not (False)."""
        self.rebalancing = bool(on)

    @property
    def weight(self) -> torch.Tensor | None:
        weights = self.class_weights  # a registered buffer: a tensor, or None without class weights
        return weights if self.rebalancing and isinstance(weights, torch.Tensor) else None

    def _arguments(self) -> dict[str, Any]:
        """What the part's forward takes besides (logits, target, weight): its constants, and its generator if it
        draws (Part.draws)."""
        arguments = {name: getattr(self, name) for name in self._buffers_of_part} | self._scalars
        if self.generator is not None:
            arguments["generator"] = self.generator
        return arguments

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        assert self.part.forward is not None  # every loss part declares its formula
        return self.part.forward(logits, target, self.weight, **self._arguments())

    def per_image(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The per-image losses of a loss part that declares them (Part.per_image), class weights multiplying them."""
        assert self.part.per_image and self.part.forward is not None
        return self.part.forward(logits, target, self.weight, **self._arguments(), reduction="none")

    def reseed(self, generator: torch.Generator, rank: int = 0) -> None:
        """A loss that draws (Part.draws) takes its epoch's seed from the epoch's generator, plus the process's rank
        (each process of a distributed run draws for its own images); others draw nothing."""
        if self.generator is not None:
            self.generator.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)) + rank)


def build_loss(method_cfg: Mapping[str, Any], class_counts: Sequence[int],
               weight: torch.Tensor | None = None) -> PartLoss:
    """The loss module of a method config, with its class weights (applied while re-balancing)."""
    from bench.parts.registry import PARTS

    part = PARTS.get("loss", method_cfg["loss"])
    return PartLoss(part, class_counts, {p.key: method_cfg[p.key] for p in part.params}, weight)


class CrossEntropy(PartLoss):
    def __init__(self, weight: torch.Tensor | None = None) -> None:
        super().__init__(ce.PART, None, {}, weight)


class FocalLoss(PartLoss):
    def __init__(self, gamma: float = 1.0, weight: torch.Tensor | None = None, form: str = "reference") -> None:
        super().__init__(focal.PART, None, {"gamma": gamma, "focal_form": form}, weight)


class LDAMLoss(PartLoss):
    def __init__(self, class_counts: Sequence[int], max_m: float = 0.5, s: float = 30.0,
                 weight: torch.Tensor | None = None) -> None:
        super().__init__(ldam.PART, class_counts, {"max_m": max_m, "s": s}, weight)


class LogitAdjustedLoss(PartLoss):
    """CE(z + tau log pi, y), pi = class_counts / sum (Menon et al. 2021)."""

    def __init__(self, class_counts: Sequence[int], tau: float = 1.0, weight: torch.Tensor | None = None) -> None:
        super().__init__(logit_adjust.PART, class_counts, {"la_tau": tau}, weight)


class BalancedSoftmaxLoss(PartLoss):
    """CE(z + log n, y) (Ren et al. 2020); equal to LogitAdjustedLoss with tau = 1."""

    def __init__(self, class_counts: Sequence[int], weight: torch.Tensor | None = None) -> None:
        super().__init__(logit_adjust.BALANCED_SOFTMAX, class_counts, {}, weight)


class VSLoss(PartLoss):
    """CE(z (n / n_max)^gamma + tau log pi, y) (Kini et al. 2021)."""

    def __init__(self, class_counts: Sequence[int], gamma: float = 0.3, tau: float = 1.0,
                 weight: torch.Tensor | None = None) -> None:
        super().__init__(vs.PART, class_counts, {"vs_gamma": gamma, "vs_tau": tau}, weight)
