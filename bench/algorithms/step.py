"""What an algorithm's training step receives: the network, the precision and memory layout its inputs take, and
the optimizer with a way to step it by a loss. Never the Trainer: a step sees what it needs, and the trainer may
change around it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # torch only for the annotations: the algorithm files import this module without torch
    import torch
    from torch import nn


@dataclass
class Step:
    """One run's step context, built by the trainer once its model, optimizer and precision are set up.

    net             the network that trains: the model, wrapped by DistributedDataParallel or torch.compile when on
    model           the model itself, for its submodules (experts, encoders, classifier)
    optimizer       the run's optimizer (a two-pass step such as SAM's steps it itself)
    autocast        a factory of the precision context: `with s.autocast(): logits = s.net(images)`
    memory_format   the layout images take before the network (`images.contiguous(memory_format=...)`)
    scaler          the fp16 gradient scaler, else None
    """

    net: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    autocast: Callable[[], AbstractContextManager[Any]]
    memory_format: torch.memory_format
    scaler: Any = None

    def optimize(self, loss: torch.Tensor) -> None:
        """zero_grad, backward and step, through the gradient scaler under fp16."""
        self.optimizer.zero_grad(set_to_none=True)
        self.backward(loss)
        self.step()

    def backward(self, loss: torch.Tensor) -> None:
        """loss.backward(), scaled under fp16 (a micro-batch's share of an accumulated step, or the whole step)."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self) -> None:
        """The optimizer step on the gradients accumulated since zero_grad, through the scaler under fp16."""
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()

    def accumulating(self, last: bool) -> AbstractContextManager[Any]:
        """The context of one micro-batch of an accumulated step: under DDP the processes' gradients are averaged
        once, at the last micro-batch (no_sync before it); nothing elsewhere."""
        import contextlib

        if last or not hasattr(self.net, "no_sync"):
            return contextlib.nullcontext()
        return cast(Any, self.net).no_sync()
