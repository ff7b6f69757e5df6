"""The trainer's hook protocol, and the hooks every run has: fault points, preemption, progress, loggers.

A hook is an object with any of these methods (all optional; Hook gives each a no-op), called by
bench.engine.trainer.Trainer in this order, with the loop (a `Loop`: the trainer) as first argument. Events come
in before_/after_ pairs around the run, each epoch's training steps and each evaluation:

    before_run(t)                      the model, optimizer and state are ready (resumed or fresh)
    before_train_epoch(t, epoch)       the epoch's order is drawn, the model is in train mode
    after_train_step(t)                a batch has trained (t.batches_done, t.loss_sum, t.images_done)
    after_train_epoch(t, epoch)        the epoch's last step is done, before its metrics
    before_evaluation(t, epoch)
    after_evaluation(t, line)          every epoch on rank 0: its metrics.jsonl line (test metrics if evaluated)
    after_checkpoint(t, mid_epoch)     a checkpoint was written (mid_epoch: inside an epoch; at an epoch's end, rank 0)
    after_epoch(t, line)               rank 0: the epoch is evaluated and saved, and every rank is past it
    after_run(t)                       always, also after an error (a finally block)
    after_result(t, result)            result.json is written

A method that trains nothing (zero-shot, 0 epochs) is evaluated once: before_evaluation(t, -1), with no
after_evaluation (there is no epoch line). The names of an earlier version (run_start, epoch_start, after_step,
after_epoch for the end of the steps, checkpoint, epoch_end, run_end, finished) are refused, never silently skipped.

Hooks are called in list order; a method's own hooks (Algorithm.hooks) come before the standard ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from bench.store import faults

EVENTS = ("before_run", "before_train_epoch", "after_train_step", "after_train_epoch", "before_evaluation",
          "after_evaluation", "after_checkpoint", "after_epoch", "after_run", "after_result")


class Loop(Protocol):
    """What a hook reads of the training loop (bench.engine.trainer.Trainer is one)."""

    model: nn.Module  # the model itself (not its DDP or compiled wrapper)
    epoch: int  # the epoch training now (0-based)
    epochs: int
    n_batches: int  # batches of this epoch
    batches_done: int  # of this epoch, also those done before a resume
    images_done: int
    last_batch_size: int
    loss_sum: torch.Tensor  # the epoch's summed loss so far (float64, on the device)


class Hook:
    def before_run(self, t: Loop) -> None: ...

    def before_train_epoch(self, t: Loop, epoch: int) -> None: ...

    def after_train_step(self, t: Loop) -> None: ...

    def after_train_epoch(self, t: Loop, epoch: int) -> None: ...

    def before_evaluation(self, t: Loop, epoch: int) -> None: ...

    def after_evaluation(self, t: Loop, line: dict) -> None: ...

    def after_checkpoint(self, t: Loop, mid_epoch: bool) -> None: ...

    def after_epoch(self, t: Loop, line: dict) -> None: ...

    def after_run(self, t: Loop) -> None: ...

    def after_result(self, t: Loop, result: dict) -> None: ...


class Hooks:
    """Calls one event on every hook that handles it, in order: `hooks.after_train_step(t)`. The callers are built
    once (a hook's inherited no-ops are left out), so an event costs nothing for the hooks that ignore it."""

    before_run: Callable[..., None]
    before_train_epoch: Callable[..., None]
    after_train_step: Callable[..., None]
    after_train_epoch: Callable[..., None]
    before_evaluation: Callable[..., None]
    after_evaluation: Callable[..., None]
    after_checkpoint: Callable[..., None]
    after_epoch: Callable[..., None]
    after_run: Callable[..., None]
    after_result: Callable[..., None]

    def __init__(self, hooks: list[Any]):
        self.hooks = list(hooks)
        for hook in self.hooks:
            _check_names(hook)
        for event in EVENTS:
            setattr(self, event, _caller([getattr(h, event) for h in self.hooks if _handles(h, event)]))


RENAMED = {"run_start": "before_run", "epoch_start": "before_train_epoch", "after_step": "after_train_step",
           "checkpoint": "after_checkpoint", "epoch_end": "after_epoch", "run_end": "after_run",
           "finished": "after_result"}  # an earlier version's event names


def _check_names(hook: Any) -> None:
    """A hook written for an earlier version's event names would never be called: refused, naming the new ones."""
    old = [name for name in RENAMED if callable(getattr(type(hook), name, None))]
    if old:
        renames = ", ".join(f"{name} -> {RENAMED[name]}" for name in old)
        raise TypeError(f"hook {type(hook).__name__} defines {', '.join(old)}, events the trainer no longer has; "
                        f"rename them ({renames}; the end of an epoch's steps is after_train_epoch)")


def _handles(hook: Any, event: str) -> bool:
    method = getattr(type(hook), event, None)
    return method is not None and method is not getattr(Hook, event)


def _caller(methods: list):
    def call(*args: Any) -> None:
        for method in methods:
            method(*args)

    return call


class FaultPoints(Hook):
    """The named points where a test may kill the run (bench.store.faults, BENCH_FAULT=<point>:<n>)."""

    def before_train_epoch(self, t, epoch):
        faults.point("epoch-start")

    def after_train_step(self, t):
        faults.point("mid-epoch")

    def before_evaluation(self, t, epoch):
        faults.point("before-eval")

    def after_checkpoint(self, t, mid_epoch):
        faults.point("mid-epoch-checkpoint" if mid_epoch else "after-checkpoint")


class Preemption(Hook):
    """The preemption watch (bench.engine.preempt): a caught signal is honoured at the next safe point, after a
    checkpoint (not the final epoch's: the result comes first) or after the result."""

    def __init__(self, watch):
        self.watch = watch

    def after_checkpoint(self, t, mid_epoch):
        if mid_epoch or t.epoch < t.epochs - 1:
            self.watch.finish()

    def after_run(self, t):
        self.watch.restore()

    def after_result(self, t, result):
        self.watch.finish()


class Progress(Hook):
    """The run's progress display (bench.engine.progress.RunProgress): bar, log lines and progress.json."""

    def __init__(self, shown):
        self.shown = shown

    def before_train_epoch(self, t, epoch):
        self.shown.epoch_start(epoch, t.n_batches, t.batches_done)

    def after_train_step(self, t):
        self.shown.step(t.last_batch_size, lambda: t.loss_sum.item() / max(1, t.images_done))

    def after_epoch(self, t, line):
        self.shown.epoch_end(line)

    def after_run(self, t):
        self.shown.close()


class Tracking(Hook):
    """The experiment trackers (bench.engine.loggers.Loggers): every epoch's line, before its checkpoint."""

    def __init__(self, trackers):
        self.trackers = trackers

    def after_evaluation(self, t, line):
        self.trackers.epoch(line["epoch"], line)

    def after_run(self, t):
        self.trackers.close()
