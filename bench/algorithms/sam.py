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

from typing import TYPE_CHECKING, Any

from bench.algorithms.standard import StandardAlgorithm
from bench.parts.part import Param, Part, Traits
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

    from bench.algorithms.step import Step


def rho_at(schedule: list, epoch: int) -> float:
    """rho of a 0-based epoch under [[start epoch, rho], ...] (starts increasing, the first at 0)."""
    return float([rho for start, rho in schedule if start <= epoch][-1])


def ascend(params: list, rho: float) -> list:
    """Step 2: move each parameter by rho g / (||g|| + 1e-12); returns the weights before the move."""
    import torch

    norm = torch.norm(torch.stack([p.grad.norm(p=2) for p in params]), p=2)
    scale = rho / (norm + 1e-12)
    before = []
    with torch.no_grad():
        for p in params:
            before.append(p.detach().clone())
            p.add_(p.grad * scale.to(p))
    return before


def descend_back(params: list, before: list) -> None:
    import torch

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

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
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


def _schedule_ok(value: Any) -> bool:
    """[[epoch, rho], ...]: the first at epoch 0, epochs increasing integers, rho positive."""
    if not value or not all(isinstance(step, list) and len(step) == 2 for step in value):
        return False
    epochs, rhos = [s[0] for s in value], [s[1] for s in value]
    return (all(type(e) is int for e in epochs) and epochs[0] == 0 and epochs == sorted(set(epochs))
            and all(type(r) in (int, float) and 0 < r <= 10 for r in rhos))


SAM_RHO = Param("sam_rho", 0.05, "SAM's radius: the weights move by rho g / ||g|| before the second pass",
                source="val-iisc/Saddle-LongTail sam.py (rho=0.05, davda54/sam's default); the methods set the "
                       "official run.sh values", check=lambda v: 0 < v <= 10, phrase="positive (and at most 10)",
                search=Search("log", 0.01, 0.8))
SAM_RHO_SCHEDULE = Param("sam_rho_schedule", None, "rho per epoch, [[0-based epoch, rho], ...] from each epoch "
                         "on (scales with --epochs); null: sam_rho throughout",
                         source="val-iisc/Saddle-LongTail imnet_train_sam.py / inat_train_sam.py adjust_rho (step)",
                         types=(list, type(None)), check=_schedule_ok,
                         phrase="a list of [epoch, rho] pairs, the first at epoch 0, epochs increasing, "
                                "each rho in (0, 10]")
PART = Part("algorithm", "sam", "sharpness-aware minimisation: the loss's gradient at w + rho g/||g|| (same batch, "
            "both passes in train mode) steps the weights at w", params=(SAM_RHO, SAM_RHO_SCHEDULE),
            source="Rangwani et al., NeurIPS 2022; val-iisc/Saddle-LongTail sam.py, cifar_train_sam.py",
            build=lambda: SAMAlgorithm,
            traits=Traits(step_cost=2.0, no_fp16="SAM: two backward passes a step"))
