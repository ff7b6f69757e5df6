"""Sharpness-aware minimisation for long-tailed training (Rangwani et al., NeurIPS 2022), as the official code
does it (val-iisc/Saddle-LongTail sam.py, from davda54/sam, and cifar_train_sam.py's loop):

    1. loss at w on the batch, backward: g (the loss gradient only; weight decay comes in step 3);
    2. w <- w + rho g / (||g||_2 + 1e-12), ||g||_2 the 2-norm of the per-parameter 2-norms of every parameter
       with a gradient (all of them: convolutions, BN, biases, the classifier), the old weights kept;
    3. the same batch, targets and loss (class weights, margins) at the perturbed weights, backward; the old
       weights back exactly; one step of the base optimizer (SGD with momentum and weight decay) with this
       gradient.

Both passes run in train mode, so BN statistics are updated twice per step (the official code has no BN
switch). rho is `method.sam_rho`, or per epoch from `method.sam_rho_schedule` ([[epoch, rho], ...], 0-based
epochs: the ImageNet-LT / iNaturalist scripts' step schedule). The first pass's loss and logits are the
step's (for the training loss and accuracy).
"""

from __future__ import annotations

from typing import Any

import torch

from bench.engine.algorithm import StandardAlgorithm
from bench.engine.step import Step


def rho_at(schedule: list, epoch: int) -> float:
    """rho of a 0-based epoch under [[start epoch, rho], ...] (starts increasing, the first at 0)."""
    return float([rho for start, rho in schedule if start <= epoch][-1])


def ascend(params: list, rho: float) -> list:
    """Step 2: move each parameter by rho g / (||g|| + 1e-12); returns the weights before the move."""
    norm = torch.norm(torch.stack([p.grad.norm(p=2) for p in params]), p=2)
    scale = rho / (norm + 1e-12)
    before = []
    with torch.no_grad():
        for p in params:
            before.append(p.detach().clone())
            p.add_(p.grad * scale.to(p))
    return before


def descend_back(params: list, before: list) -> None:
    with torch.no_grad():
        for p, old in zip(params, before):
            p.copy_(old)


class SAMAlgorithm(StandardAlgorithm):
    """The standard method parts (any loss, class weights, sampler, schedule, mix) with SAM's two-pass step."""

    def setup(self) -> None:
        super().setup()
        m = self.cfg["method"]
        self.schedule = m["sam_rho_schedule"] or [[0, m["sam_rho"]]]
        self.rho = rho_at(self.schedule, 0)

    def start_epoch(self, epoch, generator):
        self.rho = rho_at(self.schedule, epoch)
        return super().start_epoch(epoch, generator)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = self.method.mix_batch(images, labels)  # one batch, one mix, for both passes
        images = images.contiguous(memory_format=s.memory_format)
        with s.autocast():
            logits = s.net(images)
        loss = self.method.loss_value(logits.float(), targets)
        s.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in s.optimizer.param_groups for p in group["params"] if p.grad is not None]
        before = ascend(params, self.rho)
        s.optimizer.zero_grad(set_to_none=True)
        with s.autocast():
            perturbed = s.net(images)
        self.method.loss_value(perturbed.float(), targets).backward()
        descend_back(params, before)
        s.optimizer.step()
        return loss.detach(), logits.detach()
